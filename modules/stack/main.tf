locals {
  _count     = var.enabled ? 1 : 0
  _full_name = "${var.name}-${var.color}"
  _hostname  = "${var.color}.${var.domain_name}"
  _container = "app"
  _tags      = merge(var.tags, { Color = var.color })
  # An image in a private ECR repository: the execution role may pull from that repository only.
  _ecr = regex("^(?:(?P<account>[0-9]{12})\\.dkr\\.ecr\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com/(?P<repository>[^:@]+))?", var.image)
  # The only writable paths when the root filesystem is read-only: one task volume each.
  _writable = { for index, path in var.writable_paths : "writable-${index}" => path }
  # This colour's database role's credentials, read by ECS from Secrets Manager at task start: the whole
  # RDS-shaped secret, and username and password on their own (the JSON-key form of valueFrom).
  _secrets = var.database == null ? [] : [
    { name = "DB_SECRET", valueFrom = var.database.secret_arn },
    { name = "DB_USERNAME", valueFrom = "${var.database.secret_arn}:username::" },
    { name = "DB_PASSWORD", valueFrom = "${var.database.secret_arn}:password::" },
  ]
}

data "aws_region" "current" {
  count = local._count
}

data "aws_partition" "current" {
  count = local._count
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Container logs hold no secrets; the AWS-managed key is enough and avoids a CMK per colour.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); environments choose it, a year is not always wanted.
  count = local._count

  name              = "/ecs/${local._full_name}"
  retention_in_days = var.log_retention_days

  tags = local._tags
}

resource "aws_ecs_cluster" "this" {
  count = local._count

  name = local._full_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local._tags
}

resource "aws_ecs_task_definition" "this" {
  count = local._count

  family                   = local._full_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution[0].arn
  task_role_arn            = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Empty volumes on the task's ephemeral storage: the only writable paths when the root is read-only.
  dynamic "volume" {
    for_each = local._writable

    content {
      name = volume.key
    }
  }

  container_definitions = jsonencode([
    { for key, value in {
      name                   = local._container
      image                  = var.image
      essential              = true
      readonlyRootFilesystem = var.readonly_root_filesystem
      mountPoints            = [for name, path in local._writable : { sourceVolume = name, containerPath = path, readOnly = false }]
      healthCheck = var.container_health_check == null ? null : {
        command     = var.container_health_check.command
        interval    = var.container_health_check.interval
        timeout     = var.container_health_check.timeout
        retries     = var.container_health_check.retries
        startPeriod = var.container_health_check.start_period
      }
      portMappings = [
        {
          containerPort = var.container_port
          hostPort      = var.container_port
          protocol      = "tcp"
        }
      ]
      # Where the shared database is; the credentials (local._secrets) are the application role's: DML, no DDL.
      environment = concat(
        [{ name = "COLOR", value = var.color }],
        var.database == null ? [] : [
          { name = "DB_HOST", value = var.database.host },
          { name = "DB_PORT", value = tostring(var.database.port) },
          { name = "DB_NAME", value = var.database.name },
        ],
      )
      secrets = local._secrets
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this[0].name
          awslogs-region        = data.aws_region.current[0].name
          awslogs-stream-prefix = local._container
        }
      }
    } : key => value if value != null }
  ])

  tags = local._tags
}

resource "aws_ecs_service" "this" {
  count = local._count

  name            = local._full_name
  cluster         = aws_ecs_cluster.this[0].arn
  task_definition = aws_ecs_task_definition.this[0].arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  # Set explicitly: left unset, the API's default ("ENABLED") reads back as a change on every plan.
  availability_zone_rebalancing = "ENABLED"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  # Tasks carry the service's tags (Project, Environment, Color): cost and incident queries see them.
  propagate_tags = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Tasks read their secrets only when they start: a rotated password (database.password_version) needs new
  # tasks, so a change of it deploys the service again, and only this colour's.
  force_new_deployment = true
  triggers = var.database == null ? {} : {
    database_password_version = tostring(var.database.password_version)
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks[0].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this[0].arn
    container_name   = local._container
    container_port   = var.container_port
  }

  tags = local._tags

  # The target group must be attached to a listener before a service can use it.
  depends_on = [aws_lb_listener.https]

  lifecycle {
    # A constant above, sent on create. moto (the local default) drops it on CreateService and reports it as
    # changed until a later update; ignoring the read-back keeps a fresh stack's next plan (the release
    # switch) down to the traffic records. Edit the value here AND this list to change it. (moto drops the
    # grace period too: the local tfvars set it to 0, which reads back the same.)
    ignore_changes = [availability_zone_rebalancing]
  }
}
