resource "aws_security_group" "alb" {
  count = local._count

  # Prefixes, not fixed names: with create_before_destroy the replacement exists next to the old group.
  name_prefix = "${local._full_name}-alb-"
  description = "Internet-facing ALB of the ${var.color} stack"
  vpc_id      = var.vpc_id

  tags = merge(local._tags, { Name = "${local._full_name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each = var.enabled ? { https = 443, http = 80 } : {}

  security_group_id = aws_security_group.alb[0].id
  description       = "${upper(each.key)} from the internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value

  tags = local._tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  count = local._count

  security_group_id            = aws_security_group.alb[0].id
  description                  = "To the tasks on the container port"
  referenced_security_group_id = aws_security_group.tasks[0].id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port

  tags = local._tags

  lifecycle {
    # A constant; moto (the local default) drops descriptions of rules that reference a security group.
    ignore_changes = [description]
  }
}

resource "aws_security_group" "tasks" {
  count = local._count

  name_prefix = "${local._full_name}-tasks-"
  description = "ECS tasks of the ${var.color} stack: reachable only from its ALB"
  vpc_id      = var.vpc_id

  tags = merge(local._tags, { Name = "${local._full_name}-tasks" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  count = local._count

  security_group_id            = aws_security_group.tasks[0].id
  description                  = "From the ALB on the container port"
  referenced_security_group_id = aws_security_group.alb[0].id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port

  tags = local._tags

  lifecycle {
    # A constant; moto (the local default) drops descriptions of rules that reference a security group.
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  count = local._count

  security_group_id = aws_security_group.tasks[0].id
  description       = "HTTPS out: image pulls, CloudWatch Logs and AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = local._tags
}

# The shared database: by its security group when it has one (a created instance), else by CIDR (an
# existing server), and only on its port.
resource "aws_vpc_security_group_egress_rule" "tasks_database_security_group" {
  count = var.enabled && var.database != null ? length(var.database.security_group_ids) : 0

  security_group_id            = aws_security_group.tasks[0].id
  description                  = "PostgreSQL"
  referenced_security_group_id = var.database.security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.database.port
  to_port                      = var.database.port

  tags = local._tags

  lifecycle {
    # A constant; moto (the local default) drops descriptions of rules that reference a security group.
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "tasks_database_cidr" {
  for_each = var.enabled && var.database != null ? toset(var.database.cidr_blocks) : toset([])

  security_group_id = aws_security_group.tasks[0].id
  description       = "PostgreSQL"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.database.port
  to_port           = var.database.port

  tags = local._tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  count = local._count

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  count = local._count

  name               = "${local._full_name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume[0].json

  tags = local._tags
}

# Scoped inline rather than the AWS-managed execution policy: image pulls from the image's own ECR repository
# (none for other registries), and logs into this stack's group only.
data "aws_iam_policy_document" "execution" {
  count = local._count

  dynamic "statement" {
    for_each = local._ecr.repository == null ? [] : ["ecr"]

    content {
      sid       = "EcrAuthorizationToken"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"] # GetAuthorizationToken has no resource-level permissions
    }
  }

  dynamic "statement" {
    for_each = local._ecr.repository == null ? [] : ["ecr"]

    content {
      sid = "PullImageRepository"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
      ]
      resources = ["arn:${data.aws_partition.current[0].partition}:ecr:${local._ecr.region}:${local._ecr.account}:repository/${local._ecr.repository}"]
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  count = local._count

  name   = "execution"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution[0].json
}

# ECS reads the container's `secrets` with the execution role: exactly the application role's secret. A policy
# of its own, so the plan shows that one ARN even while the log group's is not known yet.
data "aws_iam_policy_document" "execution_secret" {
  count = var.enabled && var.database != null ? 1 : 0

  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.database.secret_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "DecryptDatabaseSecret"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_secret" {
  count = var.enabled && var.database != null ? 1 : 0

  name   = "database-secret"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution_secret[0].json
}
