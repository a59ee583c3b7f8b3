resource "aws_acm_certificate" "this" {
  count = local._count

  domain_name               = local._hostname
  subject_alternative_names = [var.live_hostname]
  validation_method         = "DNS"

  tags = local._tags

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  _validation_options = {
    for option in flatten(aws_acm_certificate.this[*].domain_validation_options) : option.domain_name => {
      name  = option.resource_record_name
      type  = option.resource_record_type
      value = option.resource_record_value
    }
  }
}

# Only the colour hostname's validation record lives here. The live name's record is the same for both
# colours' certificates (ACM gives one record per name and account), so it is owned by the traffic module,
# which exists as long as any colour does: a colour that is torn down must not delete the record the other
# colour's certificate renews with. See the live_hostname_validation_record output.
resource "aws_route53_record" "validation" {
  count = local._count

  zone_id         = var.zone_id
  name            = local._validation_options[local._hostname].name
  type            = local._validation_options[local._hostname].type
  records         = [local._validation_options[local._hostname].value]
  ttl             = 60
  allow_overwrite = true
}

# Waits until ACM has issued the certificate, i.e. until both validation records (this one and the live
# name's, created by the traffic module) are in DNS. No validation_record_fqdns: the provider would insist on
# seeing every name's record among them.
resource "aws_acm_certificate_validation" "this" {
  count = local._count

  certificate_arn = aws_acm_certificate.this[0].arn

  depends_on = [aws_route53_record.validation]
}
