# The PostgreSQL both colours share, and the migrator's credentials secret.
module "database" {
  source = "../modules/database"

  name   = local.name_prefix
  create = var.database.create

  existing_host = var.database.existing_host
  existing_port = coalesce(var.database_existing_port, var.database.existing_port)

  db_name                     = var.database.name
  username                    = var.database.username
  password                    = var.database_password
  password_version            = var.database_password_version
  instance_class              = var.database.instance_class
  allocated_storage           = var.database.allocated_storage
  engine_version              = var.database.engine_version
  multi_az                    = var.database.multi_az
  deletion_protection         = var.database.deletion_protection
  secret_recovery_window_days = var.database.secret_recovery_window_days

  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.private_subnet_ids
  allowed_cidr_blocks = [var.network.cidr]
}
