zone_id          = "Z0TESTZONE"
domain_name      = "example.test"
live_record_name = "www"
live_color       = "green"
canary_percent   = 10
targets = {
  blue  = { alb_dns_name = "blue-alb.us-east-1.elb.amazonaws.com", alb_zone_id = "Z35SXDOTRQ7X7K" }
  green = { alb_dns_name = "green-alb.us-east-1.elb.amazonaws.com", alb_zone_id = "Z35SXDOTRQ7X7K" }
}
