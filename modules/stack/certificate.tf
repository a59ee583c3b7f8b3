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

# Keyed by the names we already know at plan time (domain_validation_options is unknown until the certificate
# exists). Both colours' certificates validate the shared live name, and ACM gives the same record for the same
# name in one account, so the records may overwrite each other.
resource "aws_route53_record" "validation" {
  for_each = local._cert_domains

  zone_id         = var.zone_id
  name            = one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_name if option.domain_name == each.key])
  type            = one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_type if option.domain_name == each.key])
  records         = [one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_value if option.domain_name == each.key])]
  ttl             = 60
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local._count

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}
