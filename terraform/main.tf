locals {
  # "<name>-<environment>", e.g. "release-kit-production": the prefix of every resource name.
  name_prefix   = "${var.name}-${var.environment}"
  live_hostname = "${var.live_record_name}.${var.domain_name}"
  # ACM gives both colours' certificates the same record for the live name; take blue's while blue exists,
  # so a switch never touches it (the traffic module owns it, so tearing a colour down cannot delete it).
  live_validation_record = var.blue.enabled ? module.blue.live_hostname_validation_record : module.green.live_hostname_validation_record
  # A created database is reached by its security group; an existing one by its security groups and/or the
  # CIDRs the tfvars give (never a silent default: see the database variable).
  database_security_group_ids = module.database.security_group_ids
  database_cidr_blocks        = var.database.create ? [] : var.database.existing_cidr_blocks
  # The alarms notify the topic the kit creates and any actions the tfvars name.
  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.alarms.actions)
  stack_alarms  = merge({ for k, v in var.alarms : k => v if !contains(["sns_topic", "actions"], k) }, { actions = local.alarm_actions })
  # Whether a colour still logs in as the single shared role (the move to a role per colour, docs/runbook.md).
  shared_app_secret = anytrue([for stack in [var.blue, var.green] : stack.enabled && stack.database_role == "shared"])
  # What each colour's containers get: where the database is, and their own role's secret (or the shared one).
  app_database = {
    for color, stack in { blue = var.blue, green = var.green } : color => {
      host                     = module.database.host
      port                     = module.database.port
      name                     = module.database.db_name
      secret_arn               = stack.database_role == "shared" ? module.database.app_secret_arn : module.database.app_secret_arns[color]
      password_version         = stack.database_role == "shared" ? var.database.app_password_version : stack.database_password_version
      security_group_ids       = local.database_security_group_ids
      cidr_blocks              = local.database_cidr_blocks
    }
  }
}

# The hosted zone pre-exists (it is delegated once per account, outside this configuration).
data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}
