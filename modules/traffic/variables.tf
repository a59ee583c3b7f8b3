variable "canary_percent" {
  description = "Share of live traffic (whole percent, 0-50) sent to the colour that is not live. 0 means all traffic goes to live_color."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.canary_percent >= 0 && var.canary_percent <= 50 && floor(var.canary_percent) == var.canary_percent
    error_message = "canary_percent must be a whole number from 0 to 50, e.g. 10 (the share sent to the colour that is not live)."
  }

  validation {
    condition     = !var.enabled || !contains(["blue", "green"], var.live_color) || var.canary_percent == 0 || length(setsubtract(keys(var.targets), [var.live_color])) > 0
    error_message = "canary_percent is ${var.canary_percent} but the ${var.live_color == "blue" ? "green" : "blue"} stack is not enabled: set ${var.live_color == "blue" ? "green" : "blue"}.enabled = true, or set canary_percent = 0."
  }
}

variable "certificate_validation_records" {
  description = "DNS records ({ name, type, value }) that validate the live name on the stacks' certificates. Both colours' certificates get the same record for the live name, so pass one (from any enabled stack's live_hostname_validation_record output). A list so its length is known at plan time."
  type = list(object({
    name  = string
    type  = string
    value = string
  }))
  default  = []
  nullable = false
}

variable "domain_name" {
  description = "DNS domain of the hosted zone, e.g. \"example.com\"."
  type        = string
  nullable    = false
}

variable "enabled" {
  description = "Set to false to create nothing (the plan is empty)."
  type        = bool
  default     = true
  nullable    = false
}

variable "idle_failover_enabled" {
  description = "Opt-in: let Route 53 send everyone to the idle (weight-0) colour when the live colour's ALB is unhealthy. Off by default: the idle colour may be unverified, or incompatible with the schema after a contract step."
  type        = bool
  default     = false
  nullable    = false
}

variable "live_color" {
  description = "The colour that receives live traffic: \"blue\" or \"green\"."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["blue", "green"], var.live_color)
    error_message = "live_color must be \"blue\" or \"green\" (got \"${var.live_color}\")."
  }

  validation {
    condition     = !var.enabled || !contains(["blue", "green"], var.live_color) || contains(keys(var.targets), var.live_color)
    error_message = "live_color is ${var.live_color} but the ${var.live_color} stack is not enabled: set ${var.live_color}.enabled = true (and apply it) before sending it live traffic."
  }
}

variable "live_record_name" {
  description = "Left-most label of the live name; the live FQDN is \"<live_record_name>.<domain_name>\"."
  type        = string
  default     = "api"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.live_record_name))
    error_message = "live_record_name must be a single lower-case DNS label, e.g. \"api\"."
  }
}

variable "targets" {
  description = "The ALBs of the enabled colours only, keyed by colour: { blue = { alb_dns_name, alb_zone_id }, ... }."
  type = map(object({
    alb_dns_name = string
    alb_zone_id  = string
  }))
  nullable = false

  validation {
    condition     = alltrue([for color in keys(var.targets) : contains(["blue", "green"], color)])
    error_message = "targets may only have the keys \"blue\" and \"green\"."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone ID for domain_name."
  type        = string
  nullable    = false
}
