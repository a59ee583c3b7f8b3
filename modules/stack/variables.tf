variable "alarms" {
  description = "Thresholds of the colour's release alarms: target 5xx rate (percent of requests), p99 target response time (seconds), unhealthy hosts (count); each evaluates evaluation_periods periods of period_seconds and fires on datapoints_to_alarm of them. sns_topic_arn, when set, is notified on ALARM and OK."
  type = object({
    error_rate_percent  = optional(number, 5)
    p99_seconds         = optional(number, 2)
    unhealthy_hosts     = optional(number, 0)
    period_seconds      = optional(number, 60)
    evaluation_periods  = optional(number, 3)
    datapoints_to_alarm = optional(number, 2)
    sns_topic_arn       = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([10, 30, 60], var.alarms.period_seconds) || (var.alarms.period_seconds >= 60 && var.alarms.period_seconds % 60 == 0)
    error_message = "alarms.period_seconds must be 10, 30, 60 or a multiple of 60 (CloudWatch alarm periods), e.g. 60."
  }

  validation {
    condition     = var.alarms.datapoints_to_alarm >= 1 && var.alarms.datapoints_to_alarm <= var.alarms.evaluation_periods
    error_message = "alarms.datapoints_to_alarm must be from 1 to evaluation_periods (${var.alarms.evaluation_periods}), e.g. 2 of 3."
  }

  validation {
    condition     = var.alarms.error_rate_percent > 0 && var.alarms.error_rate_percent <= 100 && var.alarms.p99_seconds > 0 && var.alarms.unhealthy_hosts >= 0
    error_message = "alarms.error_rate_percent must be in (0, 100], p99_seconds above 0 and unhealthy_hosts 0 or more, e.g. { error_rate_percent = 5, p99_seconds = 2 }."
  }
}

variable "color" {
  description = "Which colour this stack is: \"blue\" or \"green\". Used in names and the colour hostname."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["blue", "green"], var.color)
    error_message = "color must be \"blue\" or \"green\"."
  }
}

variable "container_port" {
  description = "Port the container listens on; the target group and task security group use it."
  type        = number
  default     = 8080
  nullable    = false

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number from 1 to 65535, e.g. 8080."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, 2048, 4096)."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096 (Fargate CPU units)."
  }
}

variable "database" {
  description = "The shared PostgreSQL the containers use, or null for none: host, port and name (passed as DB_HOST, DB_PORT, DB_NAME), this colour's role's secret (DB_SECRET, DB_USERNAME, DB_PASSWORD through ECS secrets) and its password_version (a change starts the tasks again, so they read a rotated password), and how to reach it: its security groups (a created instance) or CIDR blocks (an existing server)."
  type = object({
    host               = string
    port               = number
    name               = string
    secret_arn         = string
    password_version   = optional(number, 1)
    security_group_ids = optional(list(string), [])
    cidr_blocks        = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.database == null || try(length(var.database.security_group_ids) + length(var.database.cidr_blocks) > 0, false)
    error_message = "database must say how the tasks reach it: set security_group_ids (a created database) or cidr_blocks (an existing one)."
  }

  validation {
    condition     = var.database == null || try(alltrue([for cidr in var.database.cidr_blocks : can(cidrnetmask(cidr))]), false)
    error_message = "database.cidr_blocks must hold IPv4 CIDR blocks, e.g. [\"10.40.0.0/16\"]."
  }
}

variable "desired_count" {
  description = "Number of tasks the ECS service keeps running."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 100 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number from 0 to 100, e.g. 2."
  }
}

variable "domain_name" {
  description = "DNS domain of the hosted zone, e.g. \"example.com\". The stack answers on \"<color>.<domain_name>\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name without a trailing dot, e.g. \"example.com\"."
  }
}

variable "enabled" {
  description = "Set to false to create nothing (the plan is empty)."
  type        = bool
  default     = true
  nullable    = false
}

variable "health_check_path" {
  description = "HTTP path the target group probes; it must answer 200."
  type        = string
  default     = "/health"
  nullable    = false

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with \"/\", e.g. \"/health\"."
  }
}

variable "image" {
  description = "Container image (with tag or digest) to run, e.g. \"ghcr.io/example/api:1.0.0\"."
  type        = string
  nullable    = false

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must be a container image reference, e.g. \"ghcr.io/example/api:1.0.0\"."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the database secret (the execution role may decrypt with it), or null for the AWS-managed key."
  type        = string
  default     = null
}

variable "live_hostname" {
  description = "The shared live name, e.g. \"api.example.com\". It is a SAN on this stack's certificate so the ALB can serve live traffic."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.live_hostname))
    error_message = "live_hostname must be a lower-case DNS name without a trailing dot, e.g. \"api.example.com\"."
  }
}

variable "log_retention_days" {
  description = "Days to keep the container logs (a value CloudWatch accepts)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB; must suit the chosen cpu (e.g. 512 with cpu 256)."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720 && floor(var.memory) == var.memory
    error_message = "memory must be a whole number of MiB from 512 to 30720 that suits the cpu (e.g. 512, 1024 or 2048 with cpu 256)."
  }
}

variable "name" {
  description = "Name prefix, e.g. \"release-kit-local\". Resources are named \"<name>-<color>\", so keep it at most 24 characters (ALB and target group names are limited to 32)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 characters of lower-case letters, digits and hyphens, starting with a letter, e.g. \"release-kit-local\"."
  }
}

variable "private_subnet_ids" {
  description = "Subnets for the ECS tasks (two AZs)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids must list at least two subnets in different AZs."
  }
}

variable "public_subnet_ids" {
  description = "Subnets for the internet-facing ALB (two AZs)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must list at least two subnets in different AZs (an ALB needs two)."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "task_role_arn" {
  description = "IAM role the application's containers run as (for AWS calls the application makes), or null for none."
  type        = string
  default     = null

  validation {
    condition     = var.task_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.task_role_arn))
    error_message = "task_role_arn must be an IAM role ARN, e.g. \"arn:aws:iam::123456789012:role/api-task\", or null."
  }
}

variable "vpc_id" {
  description = "VPC that holds the subnets."
  type        = string
  nullable    = false
}

variable "waf_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to attach to the ALB, or null for none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.waf_acl_arn))
    error_message = "waf_acl_arn must be the ARN of a regional WAFv2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/...), or null."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone ID for domain_name; the colour hostname and certificate validation records go here."
  type        = string
  nullable    = false
}
