output "function_arn" {
  description = "ARN of the migrator function, or null when disabled."
  value       = one(aws_lambda_function.this[*].arn)
}

output "function_name" {
  description = "Name of the migrator function (invoke it with this), or null when disabled."
  value       = one(aws_lambda_function.this[*].function_name)
}

output "log_group_name" {
  description = "CloudWatch log group of the function, or null when disabled."
  value       = one(aws_cloudwatch_log_group.this[*].name)
}

output "role_arn" {
  description = "ARN of the function's IAM role, or null when disabled."
  value       = one(aws_iam_role.this[*].arn)
}

output "security_group_id" {
  description = "Security group of the function, or null when disabled."
  value       = one(aws_security_group.this[*].id)
}
