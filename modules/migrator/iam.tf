data "aws_iam_policy_document" "assume" {
  count = local._count

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = local._count

  name               = local._function_name
  assume_role_policy = data.aws_iam_policy_document.assume[0].json

  tags = local._tags
}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_111:EC2 network-interface and X-Ray actions do not support resource-level permissions.
  #checkov:skip=CKV_AWS_356:EC2 network-interface and X-Ray actions do not support resource-level permissions.
  count = local._count



  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:*"]
  }

  statement {
    sid = "ManageVpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.tracing_enabled ? ["xray"] : []

    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  count = local._count

  name   = "migrator"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this[0].json
}

# The secrets apart from the rest, so the plan shows exactly which secrets the function may read: its own
# credentials (RDS's secret for a created instance), and the application's roles' (it sets their passwords
# from them); plus the one Parameter Store path where migrate records the roles it has set up.
data "aws_iam_policy_document" "secrets" {
  count = local._count

  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.secret_arn]
  }

  dynamic "statement" {
    for_each = var.app_role_enabled ? ["app"] : []

    content {
      sid       = "ReadAppRoleSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.app_secret_arn]
    }
  }

  # migrate records the roles it has set up; nothing else in Parameter Store. (Any account in the ARN: a
  # function can only ever write its own account's parameters.)
  statement {
    sid       = "RecordRolesReady"
    actions   = ["ssm:PutParameter", "ssm:GetParameter"]
    resources = ["arn:${data.aws_partition.current[0].partition}:ssm:${data.aws_region.current[0].name}:*:parameter${var.ready_path}/*"]
  }

  # Each colour's role's secret: migrate sets that role's password from it.
  dynamic "statement" {
    for_each = length(var.color_secret_arns) > 0 ? ["colors"] : []

    content {
      sid       = "ReadColorRoleSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for color in sort(keys(var.color_secret_arns)) : var.color_secret_arns[color]]
    }
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

resource "aws_iam_role_policy" "secrets" {
  count = local._count

  name   = "secrets"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.secrets[0].json
}
