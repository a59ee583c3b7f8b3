# The live name: one weighted ALIAS record per enabled colour. A release switch (live_color) or a canary
# (canary_percent) changes only these records.
module "traffic" {
  source = "../modules/traffic"

  zone_id          = data.aws_route53_zone.this.zone_id
  domain_name      = var.domain_name
  live_record_name = var.live_record_name
  live_color       = var.live_color
  canary_percent   = var.canary_percent

  # Off by default: a weight-0 colour never serves, even when the live one is unhealthy.
  idle_failover_enabled = var.idle_failover_enabled

  targets = {
    for color, stack in { blue = module.blue, green = module.green } : color => {
      alb_dns_name             = stack.alb_dns_name
      alb_zone_id              = stack.alb_zone_id
    } if stack.enabled
  }

  # The live name's certificate validation record: the same for both colours' certificates.
  certificate_validation_records = [local.live_validation_record]
}
