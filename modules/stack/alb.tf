resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:A colour's stack is destroyed when it is disabled; deletion protection would block the release flow.
  #checkov:skip=CKV2_AWS_76:The web ACL is the operator's (waf_acl_arn); its rule groups, the Log4j one among them, are chosen there.
  count = local._count

  name                       = local._full_name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb[0].id]
  drop_invalid_header_fields = true
  # After a weight change a client keeps its connection to this colour until the ALB closes it: bound it.
  client_keep_alive = var.client_keep_alive_seconds

  dynamic "access_logs" {
    for_each = var.access_logs == null ? [] : [var.access_logs]

    content {
      enabled = true
      bucket  = access_logs.value.bucket
      prefix  = access_logs.value.prefix
    }
  }

  tags = local._tags
}

resource "aws_lb_target_group" "this" {
  count = local._count

  # A prefix (at most 6 characters), not a fixed name: a change of port or protocol replaces the target
  # group, and with create_before_destroy the replacement must exist next to the old one.
  name_prefix          = substr(var.color, 0, 5)
  target_type          = "ip"
  port                 = var.container_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
    timeout             = 5
  }

  tags = merge(local._tags, { Name = local._full_name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  count = local._count

  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.tls_policy
  certificate_arn   = aws_acm_certificate_validation.this[0].certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }

  tags = local._tags
}

resource "aws_lb_listener" "http_redirect" {
  count = local._count

  load_balancer_arn = aws_lb.this[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = local._tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.enabled && var.waf_acl_arn != null ? 1 : 0

  resource_arn = aws_lb.this[0].arn
  web_acl_arn  = var.waf_acl_arn
}
