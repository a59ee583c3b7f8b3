variable "app_group" {
  description = "The group role that holds the application's DML grants (MIGRATOR_APP_GROUP); the colours' roles are its members, and it is the shared role of the single-role layout."
  type        = string
  default     = "app"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.app_group))
    error_message = "app_group must be a lower-case role name, e.g. \"app\"."
  }
}

variable "app_role_enabled" {
  description = "Keep the shared application role of the single-role layout (app_secret_arn) logging in with its secret's password on every migrate run (a flag rather than a null check, because the secret's ARN is unknown until the secret is created)."
  type        = bool
  default     = false
  nullable    = false
}

variable "app_secret_arn" {
  description = "ARN of the application role's secret (RDS JSON shape). With app_role_enabled, each migrate run creates that role (DML on the application's tables, no DDL) and sets its password from the secret."
  type        = string
  default     = null

  validation {
    condition     = !var.app_role_enabled || var.app_secret_arn != null
    error_message = "app_secret_arn is required when app_role_enabled = true: pass the application role's secret (the database module's app_secret_arn output)."
  }
}

variable "color_roles" {
  description = "Each colour's own database role (MIGRATOR_COLOR_ROLES), e.g. { blue = \"app_blue\", green = \"app_green\" }; the statement inventory attributes statements to a colour by it. Empty: the migrator's default (<app_group>_<colour>)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = length(var.color_roles) == 0 || (toset(keys(var.color_roles)) == toset(["blue", "green"]) && alltrue([for role in values(var.color_roles) : can(regex("^[a-z][a-z0-9_]{0,62}$", role))]))
    error_message = "color_roles must name a lower-case role for both blue and green, e.g. { blue = \"app_blue\", green = \"app_green\" }, or be empty."
  }
}

variable "color_secret_arns" {
  description = "ARN of each colour's role's secret (APP_BLUE_SECRET_ID, APP_GREEN_SECRET_ID), e.g. the database module's app_secret_arns: each migrate run creates that role and sets its LOGIN password from it. The keys must be known at plan time (the ARNs need not be)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for color in keys(var.color_secret_arns) : contains(["blue", "green"], color)])
    error_message = "color_secret_arns keys must be \"blue\" and/or \"green\"."
  }
}

variable "architecture" {
  description = "Instruction set of the function: \"x86_64\" or \"arm64\" (Graviton, cheaper per GB-second). Build the package for the same one (make build ARCH=...)."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration (an AWS Signer profile) that the package must satisfy, or null for none."
  type        = string
  default     = null
}

variable "database_ca_bundle" {
  description = "Path, inside the package, of the PEM bundle that signs the database's certificate (e.g. \"migrator/certs/global-bundle.pem\", the RDS global bundle copied to lambda/migrator/certs/ before the build), or null. With a bundle the migrator connects with sslmode verify-full."
  type        = string
  default     = null

  validation {
    condition     = var.database_ca_bundle == null || can(regex("^[A-Za-z0-9_./-]+\\.pem$", var.database_ca_bundle))
    error_message = "database_ca_bundle must be a path inside the package ending in .pem, e.g. \"migrator/certs/global-bundle.pem\"."
  }
}

variable "database_cidr_blocks" {
  description = "CIDR blocks of the database (used when the database is not reachable by security group, e.g. an existing server). The function may reach these only on database_port."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.database_cidr_blocks : can(cidrnetmask(cidr))])
    error_message = "database_cidr_blocks must hold IPv4 CIDR blocks, e.g. [\"10.40.128.0/18\"]."
  }
}

variable "database_host" {
  description = "Host of the PostgreSQL database, passed as DB_HOST: an RDS-managed secret holds only username and password, so the function learns where to connect from here (a secret that also names a host is used only when this is empty)."
  type        = string
  default     = null
}

variable "database_name" {
  description = "Name of the application database, passed as DB_NAME (see database_host)."
  type        = string
  default     = null
}

variable "database_port" {
  description = "TCP port of the PostgreSQL database; the only non-HTTPS port the function may reach."
  type        = number
  default     = 5432
  nullable    = false

  validation {
    condition     = var.database_port >= 1 && var.database_port <= 65535 && floor(var.database_port) == var.database_port
    error_message = "database_port must be a whole number from 1 to 65535, e.g. 5432."
  }
}

variable "database_security_group_ids" {
  description = "Security group of the database, when it has one (a list so its length is known at plan time even while the ID is not); the function may reach it only on database_port. Set this, database_cidr_blocks, or both."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = !var.enabled || length(var.database_security_group_ids) > 0 || length(var.database_cidr_blocks) > 0
    error_message = "Tell the migrator where the database is: set database_security_group_ids (a created database) or database_cidr_blocks (an existing one)."
  }
}

variable "database_sslmode" {
  description = "libpq sslmode of the migrator's connections, or null for the default: \"verify-full\" with database_ca_bundle, \"require\" without. Modes that may skip encryption (disable, allow, prefer) are refused."
  type        = string
  default     = null

  validation {
    condition     = var.database_sslmode == null || contains(["require", "verify-ca", "verify-full"], coalesce(var.database_sslmode, "require"))
    error_message = "database_sslmode must be \"require\", \"verify-ca\" or \"verify-full\" (or null); modes that may skip encryption are refused."
  }

  validation {
    condition     = !contains(["verify-ca", "verify-full"], coalesce(var.database_sslmode, "require")) || var.database_ca_bundle != null
    error_message = "database_sslmode ${coalesce(var.database_sslmode, "require")} needs database_ca_bundle (the CA that signs the server's certificate, e.g. the RDS global bundle)."
  }
}

variable "enabled" {
  description = "Set to false to create nothing (the plan is empty)."
  type        = bool
  default     = true
  nullable    = false
}

variable "environment" {
  description = "Environment name passed to the function as MIGRATOR_ENVIRONMENT, e.g. \"local\" or \"production\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.environment))
    error_message = "environment must be a lower-case name of up to 32 letters, digits and hyphens, e.g. \"production\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the secret (and the function's environment), or null for AWS-managed keys."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep the function's logs (a value CloudWatch accepts)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "memory_size" {
  description = "Memory of the function in MiB."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MiB from 128 to 10240, e.g. 512."
  }
}

variable "name" {
  description = "Name prefix, e.g. \"release-kit-local\"; the function is \"<name>-migrator\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lower-case letters, digits and hyphens, starting with a letter, e.g. \"release-kit-local\"."
  }
}

variable "package_path" {
  description = "Path of the deployment zip (built by the project's packaging step, with CPython 3.13 wheels for architecture)."
  type        = string
  nullable    = false

  validation {
    condition     = !var.enabled || (endswith(var.package_path, ".zip") && fileexists(var.package_path))
    error_message = "package_path must point at an existing .zip file; build the migrator package first (it is written to dist/migrator.zip)."
  }
}

variable "ready_path" {
  description = "Parameter Store path under which migrate records each application role it has set up (one String parameter per role, its value the role's secret ARN), e.g. \"/release-kit-production/migrator/roles-ready\". The function may write there and nowhere else in Parameter Store."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.ready_path))
    error_message = "ready_path must be a Parameter Store path such as \"/release-kit-production/migrator/roles-ready\"."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function, or null to reserve none. Reserving takes from the account's pool, of which Lambda keeps 100 unreserved (the whole quota when it is smaller): on a new account whose quota is 10, any reservation fails. Runs are serialised by a database advisory lock either way."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency, false)
    error_message = "reserved_concurrency must be null (no reservation) or a whole number of 1 or more; Lambda keeps 100 of the account's concurrency unreserved, so check the quota first (make preflight)."
  }
}

variable "secret_arn" {
  description = "ARN of the Secrets Manager secret holding the database credentials (RDS JSON shape). The function may read only this secret."
  type        = string
  nullable    = false
}

variable "statement_timeout_seconds" {
  description = "PostgreSQL statement_timeout of migrations in seconds, or null to derive it from timeout (10% less, at least 10 s less) so a statement ends before Lambda ends the function."
  type        = number
  default     = null

  validation {
    condition     = var.statement_timeout_seconds == null || try(var.statement_timeout_seconds >= 1 && var.statement_timeout_seconds <= var.timeout - 10 && floor(var.statement_timeout_seconds) == var.statement_timeout_seconds, false)
    error_message = "statement_timeout_seconds must be a whole number of seconds at least 10 below timeout (${var.timeout}), so a statement ends before the function does; or null to derive it."
  }
}

variable "subnet_ids" {
  description = "Private subnets the function runs in."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids must list at least one private subnet (two AZs recommended)."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "timeout" {
  description = "Function timeout in seconds; migrations may be slow, so the default is the Lambda maximum."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.timeout >= 60 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 60 to 900, e.g. 900."
  }
}

variable "tracing_enabled" {
  description = "Turn on AWS X-Ray active tracing."
  type        = bool
  default     = false
  nullable    = false
}

variable "vpc_id" {
  description = "VPC of the subnets; the function's security group is created here."
  type        = string
  nullable    = false
}
