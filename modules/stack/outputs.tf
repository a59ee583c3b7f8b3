output "alarm_names" {
  description = "Names of this colour's release alarms (5xx rate, target connection errors, p99 response time, unhealthy hosts); empty when disabled."
  value = concat(
    aws_cloudwatch_metric_alarm.target_5xx_rate[*].alarm_name,
    aws_cloudwatch_metric_alarm.target_connection_errors[*].alarm_name,
    aws_cloudwatch_metric_alarm.p99_response_time[*].alarm_name,
    aws_cloudwatch_metric_alarm.unhealthy_hosts[*].alarm_name,
  )
}

output "alb_arn" {
  description = "ARN of the ALB, or null when disabled."
  value       = one(aws_lb.this[*].arn)
}

output "alb_arn_suffix" {
  description = "The ALB's ARN suffix (app/<name>/<id>): its LoadBalancer dimension in CloudWatch, or null when disabled."
  value       = one(aws_lb.this[*].arn_suffix)
}

output "alb_dns_name" {
  description = "DNS name of the ALB (an alias target for the live record), or null when disabled."
  value       = one(aws_lb.this[*].dns_name)
}

output "alb_security_group_id" {
  description = "Security group of the ALB, or null when disabled."
  value       = one(aws_security_group.alb[*].id)
}

output "alb_zone_id" {
  description = "Route 53 zone ID of the ALB (an alias target for the live record), or null when disabled."
  value       = one(aws_lb.this[*].zone_id)
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate, or null when disabled."
  value       = one(aws_acm_certificate_validation.this[*].certificate_arn)
}

output "cluster_name" {
  description = "Name of the ECS cluster, or null when disabled."
  value       = one(aws_ecs_cluster.this[*].name)
}

output "color" {
  description = "The colour of this stack."
  value       = var.color
}

output "container_secret_names" {
  description = "Names of the environment variables the container gets from Secrets Manager (known at plan time, unlike their ARNs), e.g. [\"DB_SECRET\", \"DB_USERNAME\", \"DB_PASSWORD\"]."
  value       = var.enabled ? [for secret in local._secrets : secret.name] : []
}

output "enabled" {
  description = "Whether this stack exists."
  value       = var.enabled
}

output "health_check_path" {
  description = "The path the target group probes (verify requests the same one), or null when disabled."
  value       = var.enabled ? var.health_check_path : null
}

output "hostname" {
  description = "The colour hostname, \"<color>.<domain_name>\", or null when disabled."
  value       = one(aws_route53_record.this[*].fqdn)
}

output "image" {
  description = "The container image the service runs, or null when disabled."
  value       = var.enabled ? var.image : null
}

output "live_hostname_validation_record" {
  description = "The DNS record ({ name, type, value }) that validates live_hostname on this stack's certificate; the traffic module creates it. Null when disabled."
  value       = var.enabled ? local._validation_options[var.live_hostname] : null
}

output "log_group_name" {
  description = "CloudWatch log group of the containers, or null when disabled."
  value       = one(aws_cloudwatch_log_group.this[*].name)
}

output "service_name" {
  description = "Name of the ECS service, or null when disabled."
  value       = one(aws_ecs_service.this[*].name)
}

output "target_group_arn" {
  description = "ARN of the target group, or null when disabled."
  value       = one(aws_lb_target_group.this[*].arn)
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition, or null when disabled."
  value       = one(aws_ecs_task_definition.this[*].arn)
}

output "task_security_group_id" {
  description = "Security group of the ECS tasks, or null when disabled."
  value       = one(aws_security_group.tasks[*].id)
}
