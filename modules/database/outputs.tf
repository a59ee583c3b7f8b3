output "app_role_names" {
  description = "Each colour's own database role, e.g. { blue = \"app_blue\", green = \"app_green\" } (empty when disabled)."
  value       = var.enabled ? local._color_role : {}
}

output "app_secret_arn" {
  description = "ARN of the shared application role's secret (the single-role layout, while shared_app_secret is true), or null."
  value       = one(aws_secretsmanager_secret.app[*].arn)
}

output "app_secret_arns" {
  description = "ARN of each colour's role's secret (what that colour's containers log in with), e.g. { blue = \"arn:...\", green = \"arn:...\" } (empty when disabled)."
  value       = { for color, secret in aws_secretsmanager_secret.color : color => secret.arn }
}

output "app_username" {
  description = "Name of the group role that holds the application's DML grants (the colours' roles are its members; the shared role of the single-role layout), or null when disabled."
  value       = var.enabled ? var.app_username : null
}

output "db_name" {
  description = "Name of the application database, or null when disabled."
  value       = var.enabled ? var.db_name : null
}

output "host" {
  description = "Host of the database (the created instance's address, or existing_host), or null when disabled."
  value       = local._host
}

output "instance_identifier" {
  description = "Identifier of the created RDS instance, or null when create = false or disabled."
  value       = one(aws_db_instance.this[*].identifier)
}

output "port" {
  description = "Port of the database, or null when disabled."
  value       = local._port
}

output "secret_arn" {
  description = "ARN of the migrator's credentials secret: RDS's own (username and password only) for a created instance, existing_secret_arn, or the one this module writes; null when disabled."
  value       = local._secret_arn
}

output "secret_managed_by" {
  description = "Who writes the migrator's secret: \"rds\" (a created instance; RDS rotates it), \"team\" (existing_secret_arn) or \"terraform\" (written from database_password); null when disabled."
  value       = !var.enabled ? null : (var.create ? "rds" : (var.existing_secret_arn != null ? "team" : "terraform"))
}

output "security_group_id" {
  description = "Security group of the created instance, or null when create = false or disabled."
  value       = one(aws_security_group.this[*].id)
}

output "security_group_ids" {
  description = "Security groups the clients reach the database by: the created instance's, or existing_security_group_ids (a list, so its length is known at plan time)."
  value       = !var.enabled ? [] : (var.create ? [for group in aws_security_group.this : group.id] : var.existing_security_group_ids)
}

output "username" {
  description = "Database user in the secret, or null when disabled."
  value       = var.enabled ? var.username : null
}
