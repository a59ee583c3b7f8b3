module "green" {
  source = "../modules/stack"

  enabled = var.green.enabled
  color   = "green"
  name    = local.name_prefix

  image = var.green.image
  # No task starts before migrate has set up the role it logs in as (bootstrap.tf).
  desired_count                     = local.role_ready.green ? var.green.desired_count : 0
  cpu                               = var.green.cpu
  memory                            = var.green.memory
  cpu_architecture                  = var.green.cpu_architecture
  container_port                    = var.green.container_port
  health_check_path                 = var.green.health_check_path
  health_check_matcher              = var.green.health_check_matcher
  health_check_grace_period_seconds = var.green.health_check_grace_period_seconds
  readonly_root_filesystem          = var.green.readonly_root_filesystem
  writable_paths                    = var.green.writable_paths
  container_health_check            = var.green.container_health_check
  task_role_arn                     = var.green.task_role_arn

  vpc_id             = local.vpc_id
  public_subnet_ids  = local.public_subnet_ids
  private_subnet_ids = local.private_subnet_ids

  tls_policy                = var.alb.tls_policy
  client_keep_alive_seconds = var.alb.client_keep_alive_seconds
  access_logs               = var.alb.access_logs

  zone_id            = data.aws_route53_zone.this.zone_id
  domain_name        = var.domain_name
  live_hostname      = local.live_hostname
  log_retention_days = var.log_retention_days

  database    = local.app_database.green
  kms_key_arn = var.kms_key_arn
  waf_acl_arn = var.waf_acl_arn

  alarms = local.stack_alarms
}
