locals {
  # "<name>-<environment>", e.g. "release-kit-production": the prefix of every resource name.
  name_prefix   = "${var.name}-${var.environment}"
  live_hostname = "${var.live_record_name}.${var.domain_name}"
}

# The hosted zone pre-exists (it is delegated once per account, outside this configuration).
data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}
