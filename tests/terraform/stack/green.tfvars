color              = "green"
desired_count      = 3
cpu                = 512
memory             = 1024
container_port     = 80
health_check_path  = "/healthz"
log_retention_days = 7
name               = "kit-test"
image              = "ghcr.io/example/api:1.0.0"
vpc_id             = "vpc-0123456789abcdef0"
public_subnet_ids  = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
private_subnet_ids = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
zone_id            = "Z0TESTZONE"
domain_name        = "example.test"
live_hostname      = "api.example.test"
task_role_arn      = "arn:aws:iam::123456789012:role/kit-test-api"
waf_acl_arn        = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/kit-test/11111111-2222-3333-4444-555555555555"
kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
database = {
  host        = "db.internal.example.test"
  port        = 6432
  name        = "app"
  secret_arn  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/app_green-AbCdEf"
  cidr_blocks = ["10.50.0.0/24"]
  # green's password was rotated: its tasks start again
  password_version = 2
}
