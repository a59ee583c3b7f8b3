output "evaluate_target_health" {
  description = "Whether each colour's live record evaluates target health, e.g. { blue = false, green = false } (see idle_failover_enabled)."
  value       = var.enabled ? local._evaluate_health : {}
}

output "fqdn" {
  description = "The live name, \"<live_record_name>.<domain_name>\", or null when disabled."
  value       = var.enabled ? local._fqdn : null
}

output "live_color" {
  description = "The colour receiving live traffic, or null when disabled."
  value       = var.enabled ? var.live_color : null
}

output "weights" {
  description = "Route 53 weight per enabled colour (they add up to 100), e.g. { blue = 90, green = 10 }; empty when disabled."
  value       = var.enabled ? local._weights : {}
}
