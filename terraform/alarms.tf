# Optional notifications: both colours' release alarms publish ALARM and OK here when alarms.sns_topic is true.
resource "aws_sns_topic" "alarms" {
  count = var.alarms.sns_topic ? 1 : 0

  name              = "${local.name_prefix}-release-alarms"
  kms_master_key_id = "alias/aws/sns"
}
