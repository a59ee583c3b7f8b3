zone_id               = "Z0TESTZONE"
domain_name           = "example.test"
live_color            = "blue"
idle_failover_enabled = true
targets = {
  blue  = { alb_dns_name = "blue-alb.us-east-1.elb.amazonaws.com", alb_zone_id = "Z35SXDOTRQ7X7K" }
  green = { alb_dns_name = "green-alb.us-east-1.elb.amazonaws.com", alb_zone_id = "Z35SXDOTRQ7X7K" }
}
