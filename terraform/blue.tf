module "blue" {
  source = "../modules/stack"

  enabled = var.blue.enabled
  color   = "blue"
  name    = local.name_prefix

  image             = var.blue.image
  desired_count     = var.blue.desired_count
  cpu               = var.blue.cpu
  memory            = var.blue.memory
  container_port    = var.blue.container_port
  health_check_path = var.blue.health_check_path
  task_role_arn     = var.blue.task_role_arn

  vpc_id             = module.network.vpc_id
  public_subnet_ids  = module.network.public_subnet_ids
  private_subnet_ids = module.network.private_subnet_ids

  zone_id            = data.aws_route53_zone.this.zone_id
  domain_name        = var.domain_name
  live_hostname      = local.live_hostname
  log_retention_days = var.log_retention_days

  database    = local.app_database.blue
  kms_key_arn = var.kms_key_arn
  waf_acl_arn = var.waf_acl_arn

  alarms = merge(
    { for k, v in var.alarms : k => v if k != "sns_topic" },
    { sns_topic_arn = one(aws_sns_topic.alarms[*].arn) },
  )
}
