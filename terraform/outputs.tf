output "alarms" {
  description = "Each colour's release alarm names, e.g. { blue = [...], green = [...] } (an empty list for a disabled colour)."
  value = {
    blue  = module.blue.alarm_names
    green = module.green.alarm_names
  }
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms notify, or null when alarms.sns_topic is false."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "canary_percent" {
  description = "Percent of live traffic sent to the colour that is not live."
  value       = var.canary_percent
}

output "database_app_secret_arn" {
  description = "ARN of the shared application role's secret (a colour with database_role = \"shared\" logs in with it), or null."
  value       = module.database.app_secret_arn
}

output "database_app_secret_arns" {
  description = "ARN of each colour's role's secret, e.g. { blue = \"arn:...\", green = \"arn:...\" }: what that colour's containers log in with (make traffic does too)."
  value       = module.database.app_secret_arns
}

output "hostnames" {
  description = "Names to reach the service: live (weighted), and each colour directly (null when that colour is disabled)."
  value = {
    live  = module.traffic.fqdn
    blue  = module.blue.hostname
    green = module.green.hostname
  }
}

output "live_color" {
  description = "The colour serving live traffic."
  value       = module.traffic.live_color
}

output "migrator_function_name" {
  description = "Name of the migrator Lambda function (invoke it to run migrations)."
  value       = module.migrator.function_name
}

output "migrator_secret_arn" {
  description = "ARN of the database credentials secret the migrator reads."
  value       = module.database.secret_arn
}

output "region" {
  description = "The AWS region everything is deployed in: verify, migrate and preflight talk to this region, whatever the shell's AWS_REGION says."
  value       = var.region
}

output "stacks" {
  description = "The enabled colours and what runs in them."
  value = {
    for color, stack in { blue = module.blue, green = module.green } : color => {
      enabled                  = stack.enabled
      alb_arn_suffix           = stack.alb_arn_suffix
      alb_dns_name             = stack.alb_dns_name
      cluster_name             = stack.cluster_name
      container_secret_names   = stack.container_secret_names
      database_role            = color == "blue" ? var.blue.database_role : var.green.database_role
      health_check_path        = stack.health_check_path
      hostname                 = stack.hostname
      image                    = stack.image
      service_name             = stack.service_name
      target_group_arn         = stack.target_group_arn
      task_definition_arn      = stack.task_definition_arn
    } if stack.enabled
  }
}

output "traffic_weights" {
  description = "Route 53 weight per enabled colour, e.g. { blue = 90, green = 10 }."
  value       = module.traffic.weights
}
