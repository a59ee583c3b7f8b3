variable "azs" {
  description = "Exactly two availability zone names to spread the subnets over, e.g. [\"us-east-1a\", \"us-east-1b\"]."
  type        = list(string)
  nullable    = false

  validation {
    condition     = !var.enabled || (length(var.azs) == 2 && length(distinct(var.azs)) == 2)
    error_message = "azs must list exactly two distinct availability zone names, e.g. [\"us-east-1a\", \"us-east-1b\"]."
  }
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC. It is split into four equal subnets: two public, two private."
  type        = string
  default     = "10.40.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrnetmask(var.cidr)) && tonumber(split("/", var.cidr)[1]) <= 26
    error_message = "cidr must be an IPv4 CIDR block of /26 or larger, e.g. \"10.40.0.0/16\"."
  }
}

variable "egress" {
  description = "How the private subnets reach what tasks and the migrator need: \"nat\" (NAT gateway: the internet, e.g. public image registries) or \"endpoints\" (interface endpoints for ecr.api, ecr.dkr, logs and secretsmanager plus an S3 gateway endpoint: AWS services only, so images must be in private ECR)."
  type        = string
  default     = "nat"
  nullable    = false

  validation {
    condition     = contains(["nat", "endpoints"], var.egress)
    error_message = "egress must be \"nat\" or \"endpoints\": without either, Fargate cannot pull images or ship logs and the migrator cannot reach Secrets Manager."
  }
}

variable "enabled" {
  description = "Set to false to create nothing (the plan is empty)."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Name prefix for every resource, e.g. \"release-kit-production\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lower-case letters, digits and hyphens, starting with a letter, e.g. \"release-kit-local\"."
  }
}

variable "nat_gateway_per_az" {
  description = "With egress = \"nat\": one NAT gateway per AZ (an AZ outage cannot cut the other AZ off) instead of one in the first AZ."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
