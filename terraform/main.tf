locals {
  # "<name>-<environment>", e.g. "release-kit-production": the prefix of every resource name.
  name_prefix   = "${var.name}-${var.environment}"
  live_hostname = "${var.live_record_name}.${var.domain_name}"
  # ACM gives both colours' certificates the same record for the live name; take blue's while blue exists,
  # so a switch never touches it (the traffic module owns it, so tearing a colour down cannot delete it).
  live_validation_record = var.blue.enabled ? module.blue.live_hostname_validation_record : module.green.live_hostname_validation_record
}

# The hosted zone pre-exists (it is delegated once per account, outside this configuration).
data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}
