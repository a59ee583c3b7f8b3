module "blue" {
  source = "../modules/stack"

  enabled = var.blue.enabled
  color   = "blue"
  name    = local.name_prefix

  image = var.blue.image
  # No task starts before migrate has set up the role it logs in as (bootstrap.tf).
  desired_count                     = local.role_ready.blue ? var.blue.desired_count : 0
  cpu                               = var.blue.cpu
  memory                            = var.blue.memory
  cpu_architecture                  = var.blue.cpu_architecture
  container_port                    = var.blue.container_port
  health_check_path                 = var.blue.health_check_path
  health_check_matcher              = var.blue.health_check_matcher
  health_check_grace_period_seconds = var.blue.health_check_grace_period_seconds
  readonly_root_filesystem          = var.blue.readonly_root_filesystem
  writable_paths                    = var.blue.writable_paths
  container_health_check            = var.blue.container_health_check
  task_role_arn                     = var.blue.task_role_arn

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

  database    = local.app_database.blue
  kms_key_arn = var.kms_key_arn
  waf_acl_arn = var.waf_acl_arn

  alarms = local.stack_alarms
}
