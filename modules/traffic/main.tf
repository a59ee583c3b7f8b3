locals {
  _other_color = var.live_color == "blue" ? "green" : "blue"
  _fqdn        = "${var.live_record_name}.${var.domain_name}"
  # A colour without a target gets no record; the variable validations make sure that is never live traffic.
  _weights = {
    for color, weight in {
      (var.live_color)     = 100 - var.canary_percent
      (local._other_color) = var.canary_percent
    } : color => weight if contains(keys(var.targets), color)
  }
  # Route 53 answers with a zero-weight record once every non-zero record is unhealthy, and it counts a
  # record that does not evaluate health as healthy. So an idle (weight-0) colour could serve only if a
  # non-zero record can be judged unhealthy while a zero-weight record exists. Unless failover to the idle
  # colour is opted into, health is evaluated only when no record has weight 0 (a canary: then an unhealthy
  # colour drops out and the other takes its share).
  _any_zero_weight = anytrue([for weight in values(local._weights) : weight == 0])
  _evaluate_health = {
    for color, weight in local._weights : color => var.idle_failover_enabled || !local._any_zero_weight
  }
}

# One weighted ALIAS record per enabled colour. Switching or canarying changes only these weights, so the
# plan of a release touches nothing else. A weight of 0 keeps the idle colour's record in place (ready to go).
resource "aws_route53_record" "this" {
  #checkov:skip=CKV2_AWS_23:The alias targets are the colour stacks' ALBs, passed in as plain values from other modules.
  for_each = var.enabled ? var.targets : {}

  zone_id        = var.zone_id
  name           = local._fqdn
  type           = "A"
  set_identifier = each.key

  weighted_routing_policy {
    weight = local._weights[each.key]
  }

  alias {
    name                   = each.value.alb_dns_name
    zone_id                = each.value.alb_zone_id
    evaluate_target_health = local._evaluate_health[each.key]
  }
}

# The live name's certificate validation record lives here, not in a stack: it serves both colours'
# certificates (now and at renewal), so it must outlive either colour.
resource "aws_route53_record" "certificate_validation" {
  count = var.enabled ? length(var.certificate_validation_records) : 0

  zone_id         = var.zone_id
  name            = var.certificate_validation_records[count.index].name
  type            = var.certificate_validation_records[count.index].type
  records         = [var.certificate_validation_records[count.index].value]
  ttl             = 60
  allow_overwrite = true
}
