variable "alarms" {
  description = "The release alarms of each colour (see modules/stack): thresholds, periods, and sns_topic = true to create an SNS topic they notify (subscribe to it yourself)."
  type = object({
    error_rate_percent  = optional(number, 5)
    p99_seconds         = optional(number, 2)
    unhealthy_hosts     = optional(number, 0)
    period_seconds      = optional(number, 60)
    evaluation_periods  = optional(number, 3)
    datapoints_to_alarm = optional(number, 2)
    sns_topic           = optional(bool, false)
  })
  default  = {}
  nullable = false
}

variable "blue" {
  description = "The blue stack. enabled = false destroys it (only when it is not live and takes no canary)."
  type = object({
    enabled           = bool
    image             = string
    desired_count     = optional(number, 1)
    cpu               = optional(number, 256)
    memory            = optional(number, 512)
    container_port    = optional(number, 8080)
    health_check_path = optional(string, "/health")
  })
  nullable = false
}

variable "canary_percent" {
  description = "Whole percent (0-50) of live traffic sent to the colour that is not live_color. 0 sends everything to live_color."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.canary_percent >= 0 && var.canary_percent <= 50 && floor(var.canary_percent) == var.canary_percent
    error_message = "canary_percent must be a whole number from 0 to 50 (got ${var.canary_percent}), e.g. 10 to send 10% to the colour that is not live."
  }

  validation {
    condition     = var.canary_percent == 0 || lookup({ blue = var.green.enabled, green = var.blue.enabled }, var.live_color, true)
    error_message = "canary_percent is ${var.canary_percent} but the ${var.live_color == "blue" ? "green" : "blue"} stack is not enabled: set ${var.live_color == "blue" ? "green" : "blue"}.enabled = true (and apply it), or set canary_percent = 0."
  }
}

variable "database" {
  description = "The shared PostgreSQL. create = true makes an RDS instance; create = false uses the database at existing_host:existing_port."
  type = object({
    create                      = bool
    existing_host               = optional(string)
    existing_port               = optional(number, 5432)
    existing_cidr_blocks        = optional(list(string), [])
    name                        = optional(string, "app")
    username                    = optional(string, "migrator")
    instance_class              = optional(string, "db.t4g.micro")
    allocated_storage           = optional(number, 20)
    engine_version              = optional(string, "16")
    multi_az                    = optional(bool, false)
    deletion_protection         = optional(bool, true)
    secret_recovery_window_days = optional(number, 7)
  })
  nullable = false
}

variable "database_existing_port" {
  description = "Overrides database.existing_port when set; lets tooling point at a database whose port is only known at run time (e.g. TF_VAR_database_existing_port=55432)."
  type        = number
  default     = null
}

variable "database_password" {
  description = "Password of the database user. Ephemeral: it is never written to the plan or state, so supply it on every plan AND apply (TF_VAR_database_password)."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false
}

variable "database_password_version" {
  description = "Bump by one to write a new database_password (or a changed host) into the secret and a created instance."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.database_password_version >= 1 && floor(var.database_password_version) == var.database_password_version
    error_message = "database_password_version must be a whole number of 1 or more; increase it by one to rotate the password."
  }
}

variable "domain_name" {
  description = "DNS domain the service lives under, e.g. \"example.com\": live is \"<live_record_name>.<domain_name>\", colours are \"blue.<domain_name>\" and \"green.<domain_name>\"."
  type        = string
  nullable    = false
}

variable "environment" {
  description = "Environment name, e.g. \"local\" or \"production\"; part of every resource name and passed to the migrator."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must be 1-12 lower-case letters, digits or hyphens, starting with a letter, e.g. \"production\"."
  }
}

variable "green" {
  description = "The green stack. enabled = false destroys it (only when it is not live and takes no canary)."
  type = object({
    enabled           = bool
    image             = string
    desired_count     = optional(number, 1)
    cpu               = optional(number, 256)
    memory            = optional(number, 512)
    container_port    = optional(number, 8080)
    health_check_path = optional(string, "/health")
  })
  nullable = false
}

variable "live_color" {
  description = "The colour that serves live traffic: \"blue\" or \"green\". Changing it is the release switch."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["blue", "green"], var.live_color)
    error_message = "live_color must be \"blue\" or \"green\" (got \"${var.live_color}\"). Set COLOR=blue or COLOR=green."
  }

  validation {
    condition     = lookup({ blue = var.blue.enabled, green = var.green.enabled }, var.live_color, true)
    error_message = "live_color is ${var.live_color} but the ${var.live_color} stack is not enabled: set ${var.live_color}.enabled = true (and apply it) before switching live traffic to it."
  }
}

variable "live_record_name" {
  description = "Left-most label of the live name, e.g. \"api\" for api.example.com."
  type        = string
  default     = "api"
  nullable    = false
}

variable "log_retention_days" {
  description = "Days to keep container and migrator logs."
  type        = number
  default     = 30
  nullable    = false
}

variable "migrator_package_path" {
  description = "Path of the migrator deployment zip, relative to the directory terraform runs in (this one)."
  type        = string
  default     = "../dist/migrator.zip"
  nullable    = false
}

variable "name" {
  description = "Project name; resources are named \"<name>-<environment>-...\"."
  type        = string
  default     = "release-kit"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}$", var.name))
    error_message = "name must be 2-11 lower-case letters, digits or hyphens, starting with a letter, e.g. \"release-kit\" (it prefixes names limited to 32 characters)."
  }
}

variable "network" {
  description = "The VPC: its CIDR, two availability zones, and whether private subnets get a NAT gateway (needed to pull public images without VPC endpoints)."
  type = object({
    cidr                = optional(string, "10.40.0.0/16")
    azs                 = list(string)
    nat_gateway_enabled = optional(bool, false)
  })
  nullable = false
}

variable "region" {
  description = "AWS region, e.g. \"us-east-1\"."
  type        = string
  default     = "us-east-1"
  nullable    = false
}

variable "tags" {
  description = "Extra tags on every resource (added to Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "zone_name" {
  description = "Name of the existing public Route 53 hosted zone that holds domain_name, e.g. \"example.com\"."
  type        = string
  nullable    = false
}
