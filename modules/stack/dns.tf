resource "aws_route53_record" "this" {
  count = local._count

  zone_id = var.zone_id
  name    = local._hostname
  type    = "A"

  alias {
    name                   = aws_lb.this[0].dns_name
    zone_id                = aws_lb.this[0].zone_id
    evaluate_target_health = true
  }
}
