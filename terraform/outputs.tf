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

output "database_client_security_group_ids" {
  description = "Security groups of the database's clients (the migrator and each enabled colour's tasks): what an existing database's own security group must admit when the kit does not manage its rules (existing_cidr_blocks only)."
  value = merge(
    { migrator = module.migrator.security_group_id },
    var.blue.enabled ? { blue = module.blue.task_security_group_id } : {},
    var.green.enabled ? { green = module.green.task_security_group_id } : {},
  )
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

output "hosted_zone_id" {
  description = "ID of the hosted zone that holds the live records: the break-glass rollback and the contract gate look the zone up by it, never by name."
  value       = data.aws_route53_zone.this.zone_id
}

output "idle_failover_enabled" {
  description = "Whether a zero-weight colour's record evaluates target health (see var.idle_failover_enabled): the break-glass rollback writes the records by the traffic module's rule."
  value       = var.idle_failover_enabled
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
  description = "ARN of the database credentials secret the migrator reads (RDS's own for a created instance)."
  value       = module.database.secret_arn
}

output "roles_ready" {
  description = "The database roles migrate has recorded as set up (role => secret ARN), and whether each colour's tasks may start (each waits for the role it logs in as)."
  value = {
    recorded = local.roles_ready
    colors   = local.role_ready
  }
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
