variable "access_logs" {
  description = "ALB access logs: an S3 bucket in this region whose policy lets Elastic Load Balancing write (see the ELB guide, \"Enable access logs\"), and an optional prefix; null for none."
  type = object({
    bucket = string
    prefix = optional(string)
  })
  default = null
}

variable "alarms" {
  description = "The colour's release alarms: the 5xx rate (target and load-balancer 5xx over requests, percent), p99 target response time (seconds), unhealthy hosts and target connection errors (counts per period); each evaluates evaluation_periods periods of period_seconds and fires on datapoints_to_alarm of them. A period with fewer than min_requests_per_period requests never counts as a 5xx breach (one error in five requests is noise, not a failed release). actions: ARNs notified on ALARM and OK (an SNS topic, for example)."
  type = object({
    error_rate_percent      = optional(number, 5)
    min_requests_per_period = optional(number, 20)
    p99_seconds             = optional(number, 2)
    unhealthy_hosts         = optional(number, 0)
    connection_errors       = optional(number, 5)
    period_seconds          = optional(number, 60)
    evaluation_periods      = optional(number, 3)
    datapoints_to_alarm     = optional(number, 2)
    actions                 = optional(list(string), [])
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
    condition     = var.alarms.error_rate_percent > 0 && var.alarms.error_rate_percent <= 100 && var.alarms.p99_seconds > 0 && var.alarms.unhealthy_hosts >= 0 && var.alarms.connection_errors >= 0
    error_message = "alarms.error_rate_percent must be in (0, 100], p99_seconds above 0, unhealthy_hosts and connection_errors 0 or more, e.g. { error_rate_percent = 5, p99_seconds = 2 }."
  }

  validation {
    condition     = var.alarms.min_requests_per_period >= 1 && floor(var.alarms.min_requests_per_period) == var.alarms.min_requests_per_period
    error_message = "alarms.min_requests_per_period must be a whole number of 1 or more, e.g. 20 (a period with fewer requests is too small a sample to judge)."
  }
}

variable "client_keep_alive_seconds" {
  description = "How long the ALB keeps a client's HTTP connection before closing it (60 s to 7 days; AWS's default is 3600). After a weight change, clients that reuse a connection keep reaching this colour until it closes, so this bounds how long a switch takes to drain."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.client_keep_alive_seconds >= 60 && var.client_keep_alive_seconds <= 604800 && floor(var.client_keep_alive_seconds) == var.client_keep_alive_seconds
    error_message = "client_keep_alive_seconds must be a whole number from 60 to 604800 (7 days), e.g. 300."
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

variable "container_health_check" {
  description = "An optional container health check (ECS runs command inside the container, e.g. [\"CMD-SHELL\", \"curl -f http://localhost:8080/health || exit 1\"]); the image must hold the tool it calls. null: none (the target group's check still applies)."
  type = object({
    command      = list(string)
    interval     = optional(number, 30)
    timeout      = optional(number, 5)
    retries      = optional(number, 3)
    start_period = optional(number, 0)
  })
  default = null

  validation {
    condition     = var.container_health_check == null || try(contains(["CMD", "CMD-SHELL"], var.container_health_check.command[0]), false)
    error_message = "container_health_check.command must start with \"CMD\" or \"CMD-SHELL\", e.g. [\"CMD-SHELL\", \"curl -f http://localhost:8080/health || exit 1\"]."
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
  description = "Fargate task CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384 (memory must be a size Fargate offers with it)."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (Fargate CPU units)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the task (runtimePlatform): \"X86_64\" or \"ARM64\" (Graviton); the image must be built for it."
  type        = string
  default     = "X86_64"
  nullable    = false

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be \"X86_64\" or \"ARM64\"."
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

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing load-balancer health checks of a new task while the application starts."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647 && floor(var.health_check_grace_period_seconds) == var.health_check_grace_period_seconds
    error_message = "health_check_grace_period_seconds must be a whole number of seconds, 0 or more, e.g. 60."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes the target group counts as healthy: a code, a list (\"200,204\") or a range (\"200-299\")."
  type        = string
  default     = "200"
  nullable    = false

  validation {
    condition     = can(regex("^[1-5][0-9]{2}(-[1-5][0-9]{2})?(,[1-5][0-9]{2}(-[1-5][0-9]{2})?)*$", var.health_check_matcher))
    error_message = "health_check_matcher must be HTTP codes such as \"200\", \"200,204\" or \"200-299\"."
  }
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
  description = "Fargate task memory in MiB; it must be a size Fargate offers with the cpu (ECS developer guide, \"Task CPU and memory\"): 512-2048 with 256, 1024-4096 with 512, 2048-8192 with 1024 (in 1024 steps), 4096-16384 with 2048, 8192-30720 with 4096 (1024 steps), 16384-61440 with 8192 (4096 steps), 32768-122880 with 16384 (8192 steps)."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition = (
      var.cpu == 256 ? contains([512, 1024, 2048], var.memory) :
      var.cpu == 512 ? var.memory >= 1024 && var.memory <= 4096 && var.memory % 1024 == 0 :
      var.cpu == 1024 ? var.memory >= 2048 && var.memory <= 8192 && var.memory % 1024 == 0 :
      var.cpu == 2048 ? var.memory >= 4096 && var.memory <= 16384 && var.memory % 1024 == 0 :
      var.cpu == 4096 ? var.memory >= 8192 && var.memory <= 30720 && var.memory % 1024 == 0 :
      var.cpu == 8192 ? var.memory >= 16384 && var.memory <= 61440 && var.memory % 4096 == 0 :
      var.cpu == 16384 ? var.memory >= 32768 && var.memory <= 122880 && var.memory % 8192 == 0 : false
    )
    error_message = "memory ${var.memory} is not a size Fargate offers with cpu ${var.cpu}: 256 takes 512, 1024 or 2048; 512 takes 1024-4096, 1024 takes 2048-8192, 2048 takes 4096-16384 and 4096 takes 8192-30720 (all in 1024 steps); 8192 takes 16384-61440 (4096 steps); 16384 takes 32768-122880 (8192 steps)."
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

variable "readonly_root_filesystem" {
  description = "Mount the container's root filesystem read-only (true: the default, for images that write only to writable_paths). Set false for images that write elsewhere (nginx writes to /var/cache/nginx)."
  type        = bool
  default     = true
  nullable    = false
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

variable "tls_policy" {
  description = "ELB security policy of the HTTPS listener. Default: the one AWS recommends today (hybrid post-quantum key exchange, TLS 1.3 and 1.2)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
  nullable    = false

  validation {
    condition     = startswith(var.tls_policy, "ELBSecurityPolicy-")
    error_message = "tls_policy must be an ELB security policy name, e.g. \"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09\"."
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

variable "writable_paths" {
  description = "Paths in the container that stay writable when the root filesystem is read-only: each is an empty volume on the task's ephemeral storage, e.g. [\"/tmp\"]."
  type        = list(string)
  default     = ["/tmp"]
  nullable    = false

  validation {
    condition     = alltrue([for path in var.writable_paths : startswith(path, "/")])
    error_message = "writable_paths must hold absolute paths, e.g. [\"/tmp\"]."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone ID for domain_name; the colour hostname and certificate validation records go here."
  type        = string
  nullable    = false
}
