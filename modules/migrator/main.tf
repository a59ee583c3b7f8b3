locals {
  _count         = var.enabled ? 1 : 0
  _function_name = "${var.name}-migrator"
  _tags          = merge(var.tags, { Component = "migrator" })
  # End a statement before Lambda ends the function: a statement killed with the function leaves no result
  # and no log of why. The margin (10% of the timeout, at least 10 s) lets the runner roll back and report.
  _statement_timeout_seconds = coalesce(var.statement_timeout_seconds, var.timeout - max(10, floor(var.timeout / 10)))
  _sslmode                   = coalesce(var.database_sslmode, var.database_ca_bundle == null ? "require" : "verify-full")
}

data "aws_region" "current" {
  count = local._count
}

data "aws_partition" "current" {
  count = local._count
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:The migrator never logs the secret; the AWS-managed key is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); environments choose it.
  count = local._count

  # The name Lambda writes to by default, so the role can be limited to this one group.
  name              = "/aws/lambda/${local._function_name}"
  retention_in_days = var.log_retention_days

  tags = local._tags
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to the function through vpc_config; checkov does not follow the count-indexed reference.
  count = local._count

  name_prefix = "${local._function_name}-"
  description = "Schema migrator: egress only to the database port and HTTPS"
  vpc_id      = var.vpc_id

  tags = merge(local._tags, { Name = local._function_name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "database_cidr" {
  for_each = var.enabled ? toset(var.database_cidr_blocks) : toset([])

  security_group_id = aws_security_group.this[0].id
  description       = "PostgreSQL"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.database_port
  to_port           = var.database_port

  tags = local._tags
}

resource "aws_vpc_security_group_egress_rule" "database_security_group" {
  count = var.enabled ? length(var.database_security_group_ids) : 0

  security_group_id            = aws_security_group.this[0].id
  description                  = "PostgreSQL"
  referenced_security_group_id = var.database_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.database_port
  to_port                      = var.database_port

  tags = local._tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  count = local._count

  security_group_id = aws_security_group.this[0].id
  description       = "HTTPS to AWS APIs (Secrets Manager, KMS)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = local._tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invocations are synchronous from the release tooling, with retries off; a DLQ would only hide failures.
  count = local._count

  function_name    = local._function_name
  description      = "Runs database schema migrations for ${var.name}"
  role             = aws_iam_role.this[0].arn
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  handler          = "migrator.handler.handler"
  # The package carries CPython 3.13 (cp313) wheels for this architecture: build it with the same
  # (make build ARCH=...), which checks the wheels against this runtime's glibc (Amazon Linux 2023).
  runtime                 = "python3.13"
  architectures           = [var.architecture]
  timeout                 = var.timeout
  memory_size             = var.memory_size
  kms_key_arn             = var.kms_key_arn
  code_signing_config_arn = var.code_signing_config_arn

  # -1 leaves the function unreserved (the API's own default). The advisory lock serialises runs either way.
  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)

  environment {
    variables = merge(
      {
        DB_SECRET_ID               = var.secret_arn
        DB_PORT                    = tostring(var.database_port)
        MIGRATOR_ENVIRONMENT       = var.environment
        MIGRATOR_READY_PATH        = var.ready_path
        MIGRATOR_STATEMENT_TIMEOUT = "${local._statement_timeout_seconds}s"
        MIGRATOR_SSLMODE           = local._sslmode
      },
      # Where the database is: an RDS-managed secret holds only username and password.
      var.database_host == null ? {} : { DB_HOST = var.database_host },
      var.database_name == null ? {} : { DB_NAME = var.database_name },
      { MIGRATOR_APP_GROUP = var.app_group },
      length(var.color_roles) == 0 ? {} : {
        MIGRATOR_COLOR_ROLES = join(",", [for color in sort(keys(var.color_roles)) : "${color}=${var.color_roles[color]}"])
      },
      { for color in sort(keys(var.color_secret_arns)) : "APP_${upper(color)}_SECRET_ID" => var.color_secret_arns[color] },
      var.app_role_enabled ? { APP_DB_SECRET_ID = var.app_secret_arn } : {},
      var.database_ca_bundle == null ? {} : { MIGRATOR_SSLROOTCERT = var.database_ca_bundle },
    )
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this[0].id]
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = local._tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy.secrets,
  ]
}

# A failed migration must not be re-run behind the operator's back.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = local._count

  function_name                = aws_lambda_function.this[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
