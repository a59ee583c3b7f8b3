# The alarms that stop a release: a progressive release watches the target colour's alarms during each bake
# and rolls traffic back when one fires. They watch this colour's own ALB and target group, so a fault in
# one colour never blames the other.

locals {
  _alarm_dimensions = {
    LoadBalancer = one(aws_lb.this[*].arn_suffix)
    TargetGroup  = one(aws_lb_target_group.this[*].arn_suffix)
  }
}

# 5xx responses from the targets as a percentage of requests (metric math over RequestCount): a rate, not a
# count, so it means the same at 10% canary and at 100%. FILL(errors, 0): no 5xx datapoint means no errors.
resource "aws_cloudwatch_metric_alarm" "target_5xx_rate" {
  count = local._count

  alarm_name          = "${local._full_name}-target-5xx-rate"
  alarm_description   = "More than ${var.alarms.error_rate_percent}% of ${var.color}'s requests got a 5xx from its targets."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.error_rate_percent
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]
  ok_actions          = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    label       = "target 5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
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
  alarm_actions       = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]
  ok_actions          = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

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
  alarm_actions       = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]
  ok_actions          = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

  tags = local._tags
}
