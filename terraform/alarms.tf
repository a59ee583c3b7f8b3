# Optional notifications: both colours' release alarms publish ALARM and OK here when alarms.sns_topic is true.
resource "aws_sns_topic" "alarms" {
  # Encrypted with kms_key_arn when it is set (its policy must let cloudwatch.amazonaws.com use it). Without a
  # customer key the topic stays unencrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS
  # key, whose policy cannot grant it kms:GenerateDataKey.
  count = var.alarms.sns_topic ? 1 : 0

  name              = "${local.name_prefix}-release-alarms"
  kms_master_key_id = var.kms_key_arn
}
