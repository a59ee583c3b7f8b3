variable "alarms" {
  description = "The release alarms of each colour (see modules/stack): thresholds, periods, the sample size below which a period never counts as a 5xx breach (min_requests_per_period), where they notify: actions (ARNs, e.g. an existing SNS topic or an incident tool's) and/or sns_topic = true to create an SNS topic (subscribe to it yourself; with kms_key_arn set it is encrypted with that key, whose policy must then let cloudwatch.amazonaws.com call kms:Decrypt and kms:GenerateDataKey*). Production (environment production or prod) must notify somewhere."
  type = object({
    error_rate_percent      = optional(number, 5)
    min_requests_per_period = optional(number, 20)
    p99_seconds             = optional(number, 2)
    unhealthy_hosts         = optional(number, 0)
    connection_errors       = optional(number, 5)
    period_seconds          = optional(number, 60)
    evaluation_periods      = optional(number, 3)
    datapoints_to_alarm     = optional(number, 2)
    sns_topic               = optional(bool, false)
    actions                 = optional(list(string), [])
  })
  default  = {}
  nullable = false

  # An alarm nobody hears stops a release but tells no one: production must notify a person or a tool.
  validation {
    condition     = !contains(["production", "prod"], var.environment) || var.alarms.sns_topic || length(var.alarms.actions) > 0
    error_message = "environment ${var.environment} must send its alarms somewhere: set alarms = { sns_topic = true } (and subscribe to the topic), or alarms.actions = [\"arn:aws:sns:...\"]."
  }
}

variable "alb" {
  description = "Both colours' load balancers: tls_policy (default: AWS's current recommendation), access_logs = { bucket, prefix } (an S3 bucket whose policy lets ELB write; null for none), client_keep_alive_seconds (how long a client keeps a connection to a colour after a switch; AWS's default is an hour)."
  type = object({
    tls_policy                = optional(string, "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09")
    client_keep_alive_seconds = optional(number, 300)
    access_logs = optional(object({
      bucket = string
      prefix = optional(string)
    }))
  })
  default  = {}
  nullable = false
}

variable "blue" {
  description = "The blue stack. enabled = false destroys it (only when it is not live and takes no canary). Its tasks start once migrate has set up the database role they log in as (terraform/bootstrap.tf). task_role_arn: an IAM role for the application's own AWS calls (optional). cpu/memory: a pair Fargate offers. readonly_root_filesystem (default true; writable_paths stay writable): set false for images that write elsewhere. container_health_check: { command = [\"CMD-SHELL\", \"...\"] } (optional). database_role: \"own\" (default: the containers log in as <app_username>_blue, with its own secret) or \"shared\" (the single role both colours shared before, during the move: docs/runbook.md). database_password_version: bump it to rotate this colour's password alone (its tasks start again; run make migrate before releasing to it)."
  type = object({
    enabled                           = bool
    image                             = string
    desired_count                     = optional(number, 1)
    cpu                               = optional(number, 256)
    memory                            = optional(number, 512)
    cpu_architecture                  = optional(string, "X86_64")
    container_port                    = optional(number, 8080)
    health_check_path                 = optional(string, "/health")
    health_check_matcher              = optional(string, "200")
    health_check_grace_period_seconds = optional(number, 60)
    readonly_root_filesystem          = optional(bool, true)
    writable_paths                    = optional(list(string), ["/tmp"])
    container_health_check = optional(object({
      command      = list(string)
      interval     = optional(number, 30)
      timeout      = optional(number, 5)
      retries      = optional(number, 3)
      start_period = optional(number, 0)
    }))
    task_role_arn             = optional(string)
    database_role             = optional(string, "own")
    database_password_version = optional(number, 1)
  })
  nullable = false

  validation {
    condition     = contains(["own", "shared"], var.blue.database_role) && var.blue.database_password_version >= 1 && floor(var.blue.database_password_version) == var.blue.database_password_version
    error_message = "blue.database_role must be \"own\" (its own role and secret) or \"shared\" (the single shared role, during the move), and blue.database_password_version a whole number of 1 or more."
  }
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
  description = "The shared PostgreSQL. create = true makes an RDS instance whose master password RDS generates, keeps in a secret of its own and rotates (no password passes through Terraform). create = false uses the database at existing_host:existing_port: give its credentials as existing_secret_arn (a secret the team keeps) or TF_VAR_database_password (the kit writes a secret), and how the clients reach it: existing_security_group_ids (the kit adds ingress rules there) and/or existing_cidr_blocks. apply_immediately, maintenance_window, backup_window: when a created instance takes changes (pending changes wait for the window and do not block releases). engine_version: a major version while auto_minor_version_upgrade is on. parameters: a parameter group (e.g. temp_file_limit)."
  type = object({
    create                              = bool
    existing_host                       = optional(string)
    existing_port                       = optional(number, 5432)
    existing_secret_arn                 = optional(string)
    existing_cidr_blocks                = optional(list(string), [])
    existing_security_group_ids         = optional(list(string), [])
    name                                = optional(string, "app")
    username                            = optional(string, "migrator")
    app_username                        = optional(string, "app")
    app_password_version                = optional(number, 1)
    instance_class                      = optional(string, "db.t4g.micro")
    allocated_storage                   = optional(number, 20)
    max_allocated_storage               = optional(number, 100)
    engine_version                      = optional(string, "16")
    auto_minor_version_upgrade          = optional(bool, true)
    multi_az                            = optional(bool, false)
    deletion_protection                 = optional(bool, true)
    final_snapshot_enabled              = optional(bool, true)
    apply_immediately                   = optional(bool, false)
    maintenance_window                  = optional(string)
    backup_window                       = optional(string)
    backup_retention_days               = optional(number, 7)
    performance_insights_retention_days = optional(number, 7)
    parameters = optional(list(object({
      name         = string
      value        = string
      apply_method = optional(string, "immediate")
    })), [])
    secret_recovery_window_days = optional(number, 7)
  })
  nullable = false

  # The VPC's CIDR used to be the silent default: it admits everything in the VPC, and says nothing about
  # where the database really is.
  validation {
    condition     = var.database.create || length(var.database.existing_cidr_blocks) + length(var.database.existing_security_group_ids) > 0
    error_message = "database.create = false needs to say how the migrator and the tasks reach the database: set database.existing_security_group_ids (the database's security groups: the kit adds ingress rules from its clients) and/or database.existing_cidr_blocks (e.g. [\"10.50.0.0/24\"], the database's subnet)."
  }

  validation {
    condition     = alltrue([for cidr in var.database.existing_cidr_blocks : can(cidrnetmask(cidr))])
    error_message = "database.existing_cidr_blocks must hold IPv4 CIDR blocks, e.g. [\"10.50.0.0/24\"]."
  }

  # In a VPC the kit creates with egress = "endpoints", the private subnets route only inside the VPC: a
  # database outside it could never be reached.
  validation {
    condition = (
      var.database.create || var.network.existing_vpc_id != null || var.network.egress != "endpoints" ||
      alltrue([
        for cidr in var.database.existing_cidr_blocks :
        tonumber(split("/", cidr)[1]) >= tonumber(split("/", var.network.cidr)[1]) &&
        cidrhost(format("%s/%s", split("/", cidr)[0], split("/", var.network.cidr)[1]), 0) == cidrhost(var.network.cidr, 0)
      ])
    )
    error_message = "database.existing_cidr_blocks ${jsonencode(var.database.existing_cidr_blocks)} lie outside the VPC (${var.network.cidr}), and network.egress = \"endpoints\" gives the private subnets no route out of it, so the migrator and the tasks could never reach the database. Bring your own VPC with a route to it (network.existing_vpc_id and subnet IDs), or use egress = \"nat\" for a database reachable from the internet."
  }
}

variable "database_existing_port" {
  description = "Overrides database.existing_port when set; lets tooling point at a database whose port is only known at run time (e.g. TF_VAR_database_existing_port=55432)."
  type        = number
  default     = null
}

variable "database_password" {
  description = "Only for database.create = false without database.existing_secret_arn: the password of the migrator's user on the existing database, written write-only into the secret the kit creates. Ephemeral: never in the plan or state, so supply it on every plan AND apply (TF_VAR_database_password). With create = true RDS manages the master password and this must stay unset."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
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
  description = "The green stack. enabled = false destroys it (only when it is not live and takes no canary). Its tasks start once migrate has set up the database role they log in as (terraform/bootstrap.tf). task_role_arn: an IAM role for the application's own AWS calls (optional). cpu/memory: a pair Fargate offers. readonly_root_filesystem (default true; writable_paths stay writable): set false for images that write elsewhere. container_health_check: { command = [\"CMD-SHELL\", \"...\"] } (optional). database_role: \"own\" (default: the containers log in as <app_username>_green, with its own secret) or \"shared\" (the single role both colours shared before, during the move: docs/runbook.md). database_password_version: bump it to rotate this colour's password alone (its tasks start again; run make migrate before releasing to it)."
  type = object({
    enabled                           = bool
    image                             = string
    desired_count                     = optional(number, 1)
    cpu                               = optional(number, 256)
    memory                            = optional(number, 512)
    cpu_architecture                  = optional(string, "X86_64")
    container_port                    = optional(number, 8080)
    health_check_path                 = optional(string, "/health")
    health_check_matcher              = optional(string, "200")
    health_check_grace_period_seconds = optional(number, 60)
    readonly_root_filesystem          = optional(bool, true)
    writable_paths                    = optional(list(string), ["/tmp"])
    container_health_check = optional(object({
      command      = list(string)
      interval     = optional(number, 30)
      timeout      = optional(number, 5)
      retries      = optional(number, 3)
      start_period = optional(number, 0)
    }))
    task_role_arn             = optional(string)
    database_role             = optional(string, "own")
    database_password_version = optional(number, 1)
  })
  nullable = false

  validation {
    condition     = contains(["own", "shared"], var.green.database_role) && var.green.database_password_version >= 1 && floor(var.green.database_password_version) == var.green.database_password_version
    error_message = "green.database_role must be \"own\" (its own role and secret) or \"shared\" (the single shared role, during the move), and green.database_password_version a whole number of 1 or more."
  }
}

variable "idle_failover_enabled" {
  description = "Opt-in: when the live colour's ALB is unhealthy, let Route 53 send everyone to the idle (weight-0) colour. Off by default, because the idle colour may be unverified, or incompatible with the schema after a contract step."
  type        = bool
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the database secrets, the RDS storage and the migrator's environment, or null for AWS-managed keys. The key policy must let the migrator's and the tasks' execution roles decrypt."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN, e.g. \"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-...\", or null."
  }
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

variable "migrator" {
  description = "The migrator Lambda: architecture (x86_64 or arm64; build the package with make build ARCH=...), reserved_concurrency (null: none; any reservation fails on an account whose concurrency quota is 10), timeout in seconds, statement_timeout_seconds (null: derived to end before the function), database_ca_bundle (a PEM path inside the package: TLS verify-full), database_sslmode (null: verify-full with a bundle, require without), code_signing_config_arn."
  type = object({
    architecture              = optional(string, "x86_64")
    reserved_concurrency      = optional(number)
    timeout                   = optional(number, 900)
    statement_timeout_seconds = optional(number)
    database_ca_bundle        = optional(string)
    database_sslmode          = optional(string)
    code_signing_config_arn   = optional(string)
  })
  default  = {}
  nullable = false
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
  description = "The VPC. Either the kit creates one: its cidr, two availability zones (azs), and how the private subnets reach what tasks and the migrator need: egress = \"nat\" (a NAT gateway, one per AZ with nat_gateway_per_az: any registry) or \"endpoints\" (VPC endpoints for ECR, CloudWatch Logs, Secrets Manager; images must be in this region's ECR); an S3 gateway endpoint either way. Or bring your own: existing_vpc_id with public_subnet_ids (the ALBs) and private_subnet_ids (tasks, migrator, database), two AZs each; the kit then creates no network resources and egress says what your private subnets have (make preflight checks it)."
  type = object({
    cidr               = optional(string, "10.40.0.0/16")
    azs                = optional(list(string), [])
    egress             = optional(string, "nat")
    nat_gateway_per_az = optional(bool, false)
    existing_vpc_id    = optional(string)
    public_subnet_ids  = optional(list(string), [])
    private_subnet_ids = optional(list(string), [])
  })
  nullable = false

  validation {
    condition     = contains(["nat", "endpoints"], var.network.egress)
    error_message = "network.egress must be \"nat\" or \"endpoints\" (got \"${var.network.egress}\"): private subnets need one of them, or Fargate cannot pull images or ship logs and the migrator cannot reach Secrets Manager."
  }

  validation {
    condition = (
      var.network.existing_vpc_id == null ? length(var.network.azs) == 2 && length(var.network.public_subnet_ids) + length(var.network.private_subnet_ids) == 0 :
      can(regex("^vpc-[0-9a-f]+$", var.network.existing_vpc_id)) && length(var.network.public_subnet_ids) >= 2 && length(var.network.private_subnet_ids) >= 2
    )
    error_message = "network: either azs (two availability zones, for the VPC the kit creates) without subnet IDs, or existing_vpc_id (\"vpc-...\") with at least two public_subnet_ids and two private_subnet_ids in different AZs."
  }

  # VPC endpoints reach AWS services only: an image outside this region's private ECR could never be pulled.
  validation {
    condition = var.network.egress != "endpoints" || alltrue([
      for stack in [var.blue, var.green] : endswith(split("/", stack.image)[0], ".dkr.ecr.${var.region}.amazonaws.com") if stack.enabled
    ])
    error_message = "network.egress is \"endpoints\", but an enabled colour's image is not in Amazon ECR in ${var.region} (blue.image: ${var.blue.image}; green.image: ${var.green.image}): VPC endpoints reach only AWS services, so the tasks could not pull it. Set network.egress = \"nat\", or push the image to ECR in ${var.region}."
  }
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

variable "waf_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to attach to both colours' ALBs, or null for none."
  type        = string
  default     = null
}

variable "zone_name" {
  description = "Name of the existing public Route 53 hosted zone that holds domain_name, e.g. \"example.com\"."
  type        = string
  nullable    = false
}
