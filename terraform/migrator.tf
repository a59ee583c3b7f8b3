# The schema migrator Lambda. It reaches only the database port and HTTPS, and reads only the one secret.
module "migrator" {
  source = "../modules/migrator"

  name         = local.name_prefix
  environment  = var.environment
  package_path = var.migrator_package_path

  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_subnet_ids

  secret_arn    = module.database.secret_arn
  database_port = module.database.port
  # A created database is reached by its security group; an existing one by CIDR (default: the VPC).
  database_security_group_ids = var.database.create ? [module.database.security_group_id] : []
  database_cidr_blocks        = var.database.create ? [] : coalescelist(var.database.existing_cidr_blocks, [var.network.cidr])

  log_retention_days = var.log_retention_days
}
