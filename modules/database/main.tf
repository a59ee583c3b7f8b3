locals {
  _create     = var.enabled && var.create
  _identifier = "${var.name}-db"
  _host       = var.enabled ? (var.create ? one(aws_db_instance.this[*].address) : var.existing_host) : null
  _port       = var.enabled ? (var.create ? 5432 : var.existing_port) : null
  # The migrator's credentials: RDS's own secret for a created instance (RDS generates and rotates the master
  # password; no plan or apply ever sees it), the team's secret, or one this module writes (write-only).
  _write_secret = var.enabled && !var.create && var.existing_secret_arn == null
  _secret_arn = !var.enabled ? null : (
    var.create ? one(aws_db_instance.this[*].master_user_secret[0].secret_arn) : coalesce(var.existing_secret_arn, one(aws_secretsmanager_secret.this[*].arn))
  )
  # An existing database's own security groups: the clients' rules go there, one per (group, client).
  _existing_ingress = var.enabled && !var.create ? {
    for pair in setproduct(range(length(var.existing_security_group_ids)), keys(var.allowed_security_group_ids)) :
    "${pair[0]}-${pair[1]}" => { group = var.existing_security_group_ids[pair[0]], client = pair[1] }
  } : {}
}

resource "aws_db_subnet_group" "this" {
  count = local._create ? 1 : 0

  name       = local._identifier
  subnet_ids = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "this" {
  count = local._create ? 1 : 0

  # A prefix, not a fixed name: create_before_destroy needs the replacement to exist next to the old group.
  name_prefix = "${local._identifier}-"
  description = "PostgreSQL of ${var.name}: reachable on 5432 from the allowed security groups only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = local._identifier })

  lifecycle {
    create_before_destroy = true
  }
}

# Clients by security group: the migrator and each colour's tasks, never the whole VPC. The map's keys are
# static names, so the rule set is known at plan time even while the group IDs are not.
resource "aws_vpc_security_group_ingress_rule" "security_group" {
  for_each = local._create ? var.allowed_security_group_ids : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432

  tags = var.tags

  lifecycle {
    # A constant; moto (the local default) drops descriptions of rules that reference a security group.
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local._create ? toset(var.allowed_cidr_blocks) : toset([])

  security_group_id = aws_security_group.this[0].id
  description       = "PostgreSQL"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432

  tags = var.tags
}

# An existing database's security groups admit the migrator and the colours' tasks (by security group).
resource "aws_vpc_security_group_ingress_rule" "existing" {
  for_each = local._existing_ingress

  security_group_id            = each.value.group
  description                  = "PostgreSQL from ${each.value.client}"
  referenced_security_group_id = var.allowed_security_group_ids[each.value.client]
  ip_protocol                  = "tcp"
  from_port                    = var.existing_port
  to_port                      = var.existing_port

  tags = var.tags

  lifecycle {
    # A constant; moto (the local default) drops descriptions of rules that reference a security group.
    ignore_changes = [description]
  }
}

# Where temp_file_limit and friends are set (the master user may not set superuser settings per role).
resource "aws_db_parameter_group" "this" {
  count = local._create ? 1 : 0

  name_prefix = "${local._identifier}-"
  family      = "postgres${split(".", var.engine_version)[0]}"
  description = "Parameters of ${local._identifier}"

  # TLS required: 15+'s default, pinned here so that no parameter change can drop it.
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  dynamic "parameter" {
    for_each = var.parameters

    content {
      name         = parameter.value.name
      value        = parameter.value.value
      apply_method = parameter.value.apply_method
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates the export log groups with no expiry when they do not exist; these keep log_retention_days.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:PostgreSQL's log holds no secrets (passwords reach it only as SCRAM verifiers); the AWS-managed key is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); environments choose it.
  for_each = toset(local._create ? ["postgresql", "upgrade"] : [])

  name              = "/aws/rds/instance/${local._identifier}/${each.key}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs a monitoring role; Performance Insights and CloudWatch metrics cover this kit.
  #checkov:skip=CKV_AWS_157:Multi-AZ is a cost decision per environment (multi_az).
  count = local._create ? 1 : 0

  identifier     = local._identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  port           = 5432

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_name  = var.db_name
  username = var.username
  # RDS generates the master password and keeps it in a secret of its own, which it rotates: no variable,
  # plan, state or CI job ever holds it. The migrator reads that secret.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this[0].name
  vpc_security_group_ids = [aws_security_group.this[0].id]
  parameter_group_name   = one(aws_db_parameter_group.this[*].name)
  publicly_accessible    = false
  multi_az               = var.multi_az

  # Pending changes wait for the maintenance window unless apply_immediately: a pending change is not drift.
  apply_immediately  = var.apply_immediately
  maintenance_window = var.maintenance_window
  backup_window      = var.backup_window

  iam_database_authentication_enabled   = true
  auto_minor_version_upgrade            = var.auto_minor_version_upgrade
  backup_retention_period               = var.backup_retention_days
  copy_tags_to_snapshot                 = true
  deletion_protection                   = var.deletion_protection
  skip_final_snapshot                   = !var.final_snapshot_enabled
  final_snapshot_identifier             = "${local._identifier}-final-${formatdate("YYYYMMDDhhmmss", plantimestamp())}"
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this]

  lifecycle {
    # Set once, when the instance is created: unique per instance, so re-creating an environment never
    # collides with the snapshot its predecessor left behind.
    ignore_changes = [final_snapshot_identifier]
  }
}

# Only for an existing database without a secret of its own (existing_secret_arn): the migrator's credentials,
# written write-only from database_password.
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Rotation is driven by password_version (a reviewed plan), not a rotation Lambda.
  count = local._write_secret ? 1 : 0

  # A prefix, not a fixed name: a deleted secret keeps its name for the recovery window, so a re-created
  # environment gets a new one instead of failing.
  name_prefix             = "${var.name}/database/${var.username}-"
  description             = "Credentials of ${var.username} on the ${var.name} database (RDS JSON shape)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

# The standard RDS secret shape, written write-only so the password stays out of the plan and state. The value
# is re-sent only when password_version changes. Provider 5.x still reads it back (GetSecretValue) on every
# refresh (terraform-provider-aws #42383), so whoever plans must be allowed to read it: see the README.
resource "aws_secretsmanager_secret_version" "this" {
  count = local._write_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.this[0].id
  secret_string_wo = jsonencode({
    username = var.username
    password = var.password
    host     = local._host
    port     = local._port
    dbname   = var.db_name
    engine   = "postgres"
  })
  secret_string_wo_version = var.password_version
}

# ------------------------------------------------------------------------------------ application roles
# Each colour's containers log in as their own role (<app_username>_blue, <app_username>_green), members of
# the NOLOGIN group role <app_username> that holds the DML grants: the database can tell the colours apart
# (the statement inventory, the contract gate) while they share one set of privileges. The migrator creates
# the roles and their grants from these secrets (lambda/migrator/runner/app_role.py). Each password is
# generated by Secrets Manager as an ephemeral value, so it exists only in its secret: never in the plan,
# the state or a variable. A colour's password rotates on its own (color_password_versions). Provider 5.x
# reads each version back on every refresh (GetSecretValue, terraform-provider-aws #42383): the README lists
# the roles that must therefore read these secrets (the plan and apply roles among them). Each name is a
# prefix: a re-created environment must not collide with a secret still in its recovery window.

locals {
  _colors     = var.enabled ? toset(["blue", "green"]) : toset([])
  _color_role = { for color in ["blue", "green"] : color => "${var.app_username}_${color}" }
}

ephemeral "aws_secretsmanager_random_password" "color" {
  for_each = local._colors

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "color" {
  #checkov:skip=CKV2_AWS_57:Rotation is driven by color_password_versions (a reviewed plan), the next migrate run and a restart of that colour's tasks, not a rotation Lambda.
  for_each = local._colors

  name_prefix             = "${var.name}/database/${local._color_role[each.key]}-"
  description             = "Credentials of ${each.key}'s role ${local._color_role[each.key]} on the ${var.name} database (RDS JSON shape)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = merge(var.tags, { Color = each.key })
}

resource "aws_secretsmanager_secret_version" "color" {
  for_each = local._colors

  secret_id = aws_secretsmanager_secret.color[each.key].id
  secret_string_wo = jsonencode({
    username = local._color_role[each.key]
    password = ephemeral.aws_secretsmanager_random_password.color[each.key].random_password
    host     = local._host
    port     = local._port
    dbname   = var.db_name
    engine   = "postgres"
  })
  secret_string_wo_version = var.color_password_versions[each.key]
}

# The single role both colours shared before each had its own (now the group role). It exists only while a
# colour still logs in with it (shared_app_secret): the move to a role per colour is in docs/runbook.md.
ephemeral "aws_secretsmanager_random_password" "app" {
  count = var.enabled && var.shared_app_secret ? 1 : 0

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Rotation is driven by app_password_version (a reviewed plan) and the next migrate run, not a rotation Lambda.
  count = var.enabled && var.shared_app_secret ? 1 : 0

  name_prefix             = "${var.name}/database/${var.app_username}-"
  description             = "Credentials of the shared application role ${var.app_username} on the ${var.name} database (RDS JSON shape)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  count = var.enabled && var.shared_app_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.app[0].id
  secret_string_wo = jsonencode({
    username = var.app_username
    password = ephemeral.aws_secretsmanager_random_password.app[0].random_password
    host     = local._host
    port     = local._port
    dbname   = var.db_name
    engine   = "postgres"
  })
  secret_string_wo_version = var.app_password_version
}
