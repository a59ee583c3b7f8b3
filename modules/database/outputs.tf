output "app_secret_arn" {
  description = "ARN of the application role's credentials secret (what the colours' containers log in with), or null when disabled."
  value       = one(aws_secretsmanager_secret.app[*].arn)
}

output "app_username" {
  description = "Name of the application role (DML on the application's tables, no DDL), or null when disabled."
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
  description = "ARN of the credentials secret, or null when disabled."
  value       = one(aws_secretsmanager_secret.this[*].arn)
}

output "secret_name" {
  description = "Name of the credentials secret, or null when disabled."
  value       = one(aws_secretsmanager_secret.this[*].name)
}

output "security_group_id" {
  description = "Security group of the created instance, or null when create = false or disabled."
  value       = one(aws_security_group.this[*].id)
}

output "username" {
  description = "Database user in the secret, or null when disabled."
  value       = var.enabled ? var.username : null
}
