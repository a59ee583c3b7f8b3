variable "allocated_storage" {
  description = "Storage of a created instance in GiB."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536 && floor(var.allocated_storage) == var.allocated_storage
    error_message = "allocated_storage must be a whole number of GiB from 20 to 65536, e.g. 20."
  }
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to reach a created instance on its port. Prefer allowed_security_group_ids: a CIDR admits everything in it."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.allowed_cidr_blocks : can(cidrnetmask(cidr))])
    error_message = "allowed_cidr_blocks must hold IPv4 CIDR blocks, e.g. [\"10.40.0.0/16\"]."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach a created instance on its port, by a static name (e.g. { migrator = sg-1, blue = sg-2 }): the names are keys so the rules are known at plan time."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "app_password_version" {
  description = "Bump (1, 2, 3, ...) to generate a new password for the shared application role (shared_app_secret); the next migrate run sets it in the database."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.app_password_version >= 1 && floor(var.app_password_version) == var.app_password_version
    error_message = "app_password_version must be a whole number of 1 or more; increase it by one to rotate the application role's password."
  }
}

variable "app_username" {
  description = "Name of the group role that holds the application's DML grants; each colour logs in as \"<app_username>_<colour>\", a member of it (it may read and write tables, not change the schema)."
  type        = string
  default     = "app"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.app_username))
    error_message = "app_username must start with a lower-case letter and hold only lower-case letters, digits and underscores, e.g. \"app\"."
  }
}

variable "apply_immediately" {
  description = "Apply changes to a created instance at once instead of in the next maintenance window. false (default): a change stays pending, which a release does not mind; plan shows it until the window."
  type        = bool
  default     = false
  nullable    = false
}

variable "auto_minor_version_upgrade" {
  description = "Let RDS upgrade the minor version in the maintenance window. Then engine_version must name a major version only (\"16\"), or the next plan would try to go back."
  type        = bool
  default     = true
  nullable    = false
}

variable "backup_retention_days" {
  description = "Days of automated backups of a created instance."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number from 1 to 35, e.g. 7."
  }
}

variable "backup_window" {
  description = "Daily UTC window of automated backups, \"hh24:mi-hh24:mi\" (at least 30 minutes, not overlapping maintenance_window), or null for one RDS picks."
  type        = string
  default     = null

  validation {
    condition     = var.backup_window == null || can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_window))
    error_message = "backup_window must be \"hh24:mi-hh24:mi\" in UTC, e.g. \"02:00-03:00\", or null."
  }
}

variable "color_password_versions" {
  description = "Bump a colour's number (1, 2, 3, ...) to generate a new password for that colour's role alone; the next migrate run sets it in the database, and that colour's tasks must start again to read it (the stack restarts them when its database.password_version changes)."
  type = object({
    blue  = optional(number, 1)
    green = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for version in [var.color_password_versions.blue, var.color_password_versions.green] : version >= 1 && floor(version) == version])
    error_message = "color_password_versions must hold whole numbers of 1 or more, e.g. { green = 2 } to rotate green's password."
  }
}

variable "create" {
  description = "true: create an RDS PostgreSQL instance. false: use the existing database at existing_host:existing_port (only the secret is created)."
  type        = bool
  nullable    = false
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "app"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a lower-case letter and hold only lower-case letters, digits and underscores, e.g. \"app\"."
  }
}

variable "deletion_protection" {
  description = "Protect a created instance from deletion. Turn off only to tear an environment down on purpose."
  type        = bool
  default     = true
  nullable    = false
}

variable "enabled" {
  description = "Set to false to create nothing (the plan is empty)."
  type        = bool
  default     = true
  nullable    = false
}

variable "engine_version" {
  description = "PostgreSQL major (or major.minor) version of a created instance, e.g. \"16\". 15 or later: RDS enforces TLS (rds.force_ssl = 1) by default from 15 on, and public-schema CREATE is no longer granted to everyone."
  type        = string
  default     = "16"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", var.engine_version)) && try(tonumber(split(".", var.engine_version)[0]) >= 15, false)
    error_message = "engine_version must be PostgreSQL 15 or later, e.g. \"16\" or \"16.4\" (the kit relies on RDS enforcing TLS, which it does by default from 15 on)."
  }

  # RDS upgrades the minor version by itself in the maintenance window; a pinned minor would make the next
  # plan ask for the older version back (which RDS refuses).
  validation {
    condition     = !var.auto_minor_version_upgrade || !strcontains(var.engine_version, ".")
    error_message = "engine_version \"${var.engine_version}\" pins a minor version, but auto_minor_version_upgrade is on: RDS upgrades minors by itself and the next plan would ask to go back. Use the major version (\"${split(".", var.engine_version)[0]}\"), or set auto_minor_version_upgrade = false."
  }
}

variable "existing_host" {
  description = "Host name or address of the existing database (create = false)."
  type        = string
  default     = null

  validation {
    condition     = !var.enabled || var.create || try(length(var.existing_host) > 0, false)
    error_message = "existing_host is required when create = false: set it to the existing database's host name, or set create = true."
  }
}

variable "existing_secret_arn" {
  description = "create = false: ARN of a Secrets Manager secret the team already keeps for the migrator's user (JSON with username and password; host, port and dbname optional). Then no password passes through Terraform. null: this module writes one from password."
  type        = string
  default     = null

  validation {
    condition     = var.existing_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+", var.existing_secret_arn))
    error_message = "existing_secret_arn must be a Secrets Manager secret ARN, e.g. \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:db/migrator-AbCdEf\", or null."
  }
}

variable "existing_port" {
  description = "Port of the existing database (create = false)."
  type        = number
  default     = 5432
  nullable    = false

  validation {
    condition     = var.existing_port >= 1 && var.existing_port <= 65535 && floor(var.existing_port) == var.existing_port
    error_message = "existing_port must be a whole number from 1 to 65535, e.g. 5432."
  }
}

variable "existing_security_group_ids" {
  description = "create = false: the existing database's security groups. The clients (allowed_security_group_ids) reach it by these, and this module adds one ingress rule per client to each."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "final_snapshot_enabled" {
  description = "Take a final snapshot when a created instance is deleted (skip_final_snapshot = !final_snapshot_enabled)."
  type        = bool
  default     = true
  nullable    = false
}

variable "instance_class" {
  description = "Instance class of a created instance."
  type        = string
  default     = "db.t4g.micro"
  nullable    = false

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS instance class, e.g. \"db.t4g.micro\"."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the secret and the instance storage, or null for AWS-managed keys."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep the created instance's exported logs (postgresql, upgrade)."
  type        = number
  default     = 30
  nullable    = false
}

variable "maintenance_window" {
  description = "Weekly UTC window for pending changes and minor upgrades, \"ddd:hh24:mi-ddd:hh24:mi\", or null for one RDS picks."
  type        = string
  default     = null

  validation {
    condition     = var.maintenance_window == null || can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window))
    error_message = "maintenance_window must be \"ddd:hh24:mi-ddd:hh24:mi\" in UTC with lower-case days, e.g. \"sun:03:00-sun:04:00\", or null."
  }
}

variable "max_allocated_storage" {
  description = "Upper bound in GiB for RDS storage autoscaling of a created instance, or 0 to turn it off."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.max_allocated_storage == 0 || (var.max_allocated_storage >= var.allocated_storage && var.max_allocated_storage <= 65536)
    error_message = "max_allocated_storage must be 0 (no autoscaling) or from allocated_storage (${var.allocated_storage}) to 65536 GiB, e.g. 100."
  }
}

variable "multi_az" {
  description = "Run a created instance Multi-AZ (standby in a second AZ)."
  type        = bool
  default     = false
  nullable    = false
}

variable "name" {
  description = "Name prefix, e.g. \"release-kit-production\"; the instance is \"<name>-db\" and the secret \"<name>/database/<username>\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lower-case letters, digits and hyphens, starting with a letter, e.g. \"release-kit-local\"."
  }
}

variable "parameters" {
  description = "PostgreSQL parameters of a created instance, e.g. [{ name = \"temp_file_limit\", value = \"1048576\" }], in the instance's own parameter group (which always requires TLS: rds.force_ssl = 1 cannot be turned off here). apply_method: \"immediate\" or \"pending-reboot\" (static parameters)."
  type = list(object({
    name         = string
    value        = string
    apply_method = optional(string, "immediate")
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for parameter in var.parameters : contains(["immediate", "pending-reboot"], parameter.apply_method)])
    error_message = "parameters[*].apply_method must be \"immediate\" or \"pending-reboot\"."
  }

  # The migrator, the tasks and the kit's TLS guarantee rely on the server refusing plain connections.
  validation {
    condition     = !contains([for parameter in var.parameters : parameter.name], "rds.force_ssl")
    error_message = "parameters may not set rds.force_ssl: the kit pins it to 1 (TLS required)."
  }
}

variable "password" {
  description = "Password of the migrator's user on an existing database (create = false, no existing_secret_arn); written write-only into the secret this module creates. Ephemeral: never in the plan or state, so give it on every plan and apply (TF_VAR_database_password). Not used with create = true: RDS manages the master password."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = !var.enabled || var.create || var.existing_secret_arn != null || try(length(var.password) >= 8, false)
    error_message = "password must be at least 8 characters for an existing database without existing_secret_arn: set TF_VAR_database_password (it is never stored in the plan or state), or name the team's own secret in existing_secret_arn."
  }

  validation {
    condition     = !var.enabled || !var.create || var.password == null
    error_message = "password is not used with create = true: RDS generates and rotates the master password in a secret of its own (manage_master_user_password). Unset TF_VAR_database_password."
  }
}

variable "password_version" {
  description = "Bump (1, 2, 3, ...) to write a new password, or a new host, into the secret (and a created instance). Write-only values are sent only when this changes."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a whole number of 1 or more; increase it by one to rotate the password."
  }
}

variable "performance_insights_retention_days" {
  description = "Days Performance Insights keeps its data: 7 (free), 731, or a multiple of 31."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = contains([7, 731], var.performance_insights_retention_days) || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days >= 31 && var.performance_insights_retention_days <= 713)
    error_message = "performance_insights_retention_days must be 7, 731 or a multiple of 31 up to 713 (months), e.g. 7."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 deletes at once, handy for throwaway environments)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or a whole number from 7 to 30."
  }
}

variable "shared_app_secret" {
  description = "Keep the secret of the single role both colours shared before each had its own (<name>/database/<app_username>): true while a colour still logs in with it during the move to a role per colour (docs/runbook.md)."
  type        = bool
  default     = false
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets (two AZs) for a created instance."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = !var.enabled || !var.create || length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two private subnets in different AZs when create = true."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "username" {
  description = "Database user stored in the secret (the master user of a created instance)."
  type        = string
  default     = "migrator"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.username))
    error_message = "username must start with a lower-case letter and hold only lower-case letters, digits and underscores, e.g. \"migrator\"."
  }
}

variable "vpc_id" {
  description = "VPC of a created instance (its security group lives here)."
  type        = string
  default     = null

  validation {
    condition     = !var.enabled || !var.create || var.vpc_id != null
    error_message = "vpc_id is required when create = true."
  }
}
