color              = "blue"
name               = "kit-test"
image              = "ghcr.io/example/api:1.0.0"
vpc_id             = "vpc-0123456789abcdef0"
public_subnet_ids  = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
private_subnet_ids = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
zone_id            = "Z0TESTZONE"
domain_name        = "example.test"
live_hostname      = "api.example.test"
database = {
  host               = "kit-test-db.abc.us-east-1.rds.amazonaws.com"
  port               = 5432
  name               = "app"
  secret_arn         = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/app-AbCdEf"
  security_group_ids = ["sg-0000000000000000e"]
}
