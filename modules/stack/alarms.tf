# The alarms that stop a release: a progressive release watches the target colour's alarms during each bake
# and rolls traffic back when one fires. They watch this colour's own ALB and target group, so a fault in
# one colour never blames the other.

locals {
  _alarm_dimensions = {
    LoadBalancer = one(aws_lb.this[*].arn_suffix)
    TargetGroup  = one(aws_lb_target_group.this[*].arn_suffix)
  }
}

# 5xx responses as a percentage of requests (metric math over RequestCount): a rate, not a count, so it means
# the same at a 10% canary and at 100%. Both sources count: the targets' own 5xx, and the load balancer's
# (502 when a target resets or refuses the connection, 503 when none is healthy, 504 when it times out),
# which a crashing or hanging canary produces and the target metric never sees. FILL(x, 0): no datapoint
# means no errors. A period with fewer than min_requests_per_period requests is no evidence either way, so it
# reads 0: one error in five requests must not roll a healthy release back.
resource "aws_cloudwatch_metric_alarm" "target_5xx_rate" {
  count = local._count

  alarm_name          = "${local._full_name}-target-5xx-rate"
  alarm_description   = "More than ${var.alarms.error_rate_percent}% of ${var.color}'s requests got a 5xx from its targets or its load balancer (periods of at least ${var.alarms.min_requests_per_period} requests)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.error_rate_percent
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests >= ${var.alarms.min_requests_per_period}, 100 * (FILL(target_errors, 0) + FILL(elb_errors, 0)) / requests, 0)"
    label       = "5xx rate, targets and load balancer (%)"
    return_data = true
  }

  metric_query {
    id = "target_errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = local._alarm_dimensions.LoadBalancer }
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb_errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = local._alarm_dimensions.LoadBalancer }
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = local._alarm_dimensions.LoadBalancer }
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }

  tags = local._tags
}

# Connections the load balancer could not open to a target: a task that crashed, or one not listening yet.
# The 5xx rate sees the 502s these cause only above its sample size; this sees them from the first few.
resource "aws_cloudwatch_metric_alarm" "target_connection_errors" {
  count = local._count

  alarm_name          = "${local._full_name}-target-connection-errors"
  alarm_description   = "${var.color}'s load balancer failed to connect to its targets more than ${var.alarms.connection_errors} times in a period."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.connection_errors
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  treat_missing_data  = "notBreaching"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetConnectionErrorCount"
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  dimensions          = local._alarm_dimensions
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions

  tags = local._tags
}

resource "aws_cloudwatch_metric_alarm" "p99_response_time" {
  count = local._count

  alarm_name          = "${local._full_name}-p99-response-time"
  alarm_description   = "${var.color}'s targets answer slower than ${var.alarms.p99_seconds}s at the 99th percentile."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.p99_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  treat_missing_data  = "notBreaching"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  period              = var.alarms.period_seconds
  dimensions          = { LoadBalancer = local._alarm_dimensions.LoadBalancer }
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions

  tags = local._tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  count = local._count

  alarm_name          = "${local._full_name}-unhealthy-hosts"
  alarm_description   = "More than ${var.alarms.unhealthy_hosts} of ${var.color}'s targets fail their health check."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.unhealthy_hosts
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  treat_missing_data  = "notBreaching"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = var.alarms.period_seconds
  dimensions          = local._alarm_dimensions
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions

  tags = local._tags
}
