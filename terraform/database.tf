# The PostgreSQL both colours share, the migrator's credentials secret (RDS's own for a created instance), and
# each colour's role's secret.
module "database" {
  source = "../modules/database"

  name   = local.name_prefix
  create = var.database.create

  existing_host               = var.database.existing_host
  existing_port               = coalesce(var.database_existing_port, var.database.existing_port)
  existing_secret_arn         = var.database.existing_secret_arn
  existing_security_group_ids = var.database.existing_security_group_ids

  db_name              = var.database.name
  username             = var.database.username
  password             = var.database_password
  password_version     = var.database_password_version
  app_username         = var.database.app_username
  app_password_version = var.database.app_password_version
  shared_app_secret    = local.shared_app_secret
  color_password_versions = {
    blue  = var.blue.database_password_version
    green = var.green.database_password_version
  }

  instance_class                      = var.database.instance_class
  allocated_storage                   = var.database.allocated_storage
  max_allocated_storage               = var.database.max_allocated_storage
  engine_version                      = var.database.engine_version
  auto_minor_version_upgrade          = var.database.auto_minor_version_upgrade
  parameters                          = var.database.parameters
  multi_az                            = var.database.multi_az
  deletion_protection                 = var.database.deletion_protection
  final_snapshot_enabled              = var.database.final_snapshot_enabled
  apply_immediately                   = var.database.apply_immediately
  maintenance_window                  = var.database.maintenance_window
  backup_window                       = var.database.backup_window
  backup_retention_days               = var.database.backup_retention_days
  performance_insights_retention_days = var.database.performance_insights_retention_days
  secret_recovery_window_days         = var.database.secret_recovery_window_days
  log_retention_days                  = var.log_retention_days
  kms_key_arn                         = var.kms_key_arn

  vpc_id     = local.vpc_id
  subnet_ids = local.private_subnet_ids
  # Only the migrator and the enabled colours' tasks, by security group: never the whole VPC.
  allowed_security_group_ids = merge(
    { migrator = module.migrator.security_group_id },
    var.blue.enabled ? { blue = module.blue.task_security_group_id } : {},
    var.green.enabled ? { green = module.green.task_security_group_id } : {},
  )
}
