# The schema migrator Lambda. It reaches only the database port and HTTPS, and reads only its own secret and
# the application's roles' secrets.
module "migrator" {
  source = "../modules/migrator"

  name         = local.name_prefix
  environment  = var.environment
  package_path = var.migrator_package_path

  vpc_id     = local.vpc_id
  subnet_ids = local.private_subnet_ids

  secret_arn                  = module.database.secret_arn
  database_host               = module.database.host
  database_name               = module.database.db_name
  ready_path                  = local.roles_ready_path
  app_group                   = var.database.app_username
  color_roles                 = module.database.app_role_names
  color_secret_arns           = module.database.app_secret_arns
  app_role_enabled            = local.shared_app_secret
  app_secret_arn              = module.database.app_secret_arn
  database_port               = module.database.port
  database_security_group_ids = local.database_security_group_ids
  database_cidr_blocks        = local.database_cidr_blocks
  database_ca_bundle          = var.migrator.database_ca_bundle
  database_sslmode            = var.migrator.database_sslmode

  architecture              = var.migrator.architecture
  reserved_concurrency      = var.migrator.reserved_concurrency
  timeout                   = var.migrator.timeout
  statement_timeout_seconds = var.migrator.statement_timeout_seconds
  code_signing_config_arn   = var.migrator.code_signing_config_arn
  kms_key_arn               = var.kms_key_arn

  log_retention_days = var.log_retention_days
}
