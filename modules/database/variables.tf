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

variable "password" {
  description = "Password of the database user. Ephemeral: it never enters the plan or state, so give it again on every plan and apply (e.g. TF_VAR_database_password)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = !var.enabled || try(length(var.password) >= 8, false)
    error_message = "password must be at least 8 characters: set TF_VAR_database_password (it is never stored in the plan or state)."
  }

  # RDS refuses a master password longer than 128 characters or holding "/", "@", a double quote, a space
  # or anything but printable ASCII; say so at plan time instead of failing half-way through an apply.
  validation {
    condition     = !var.enabled || !var.create || try(length(var.password) <= 128 && can(regex("^[!#-.0-?A-~]+$", var.password)), false)
    error_message = "password is refused by RDS: use 8 to 128 printable ASCII characters without \"/\", \"@\", double quotes or spaces (set TF_VAR_database_password)."
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
