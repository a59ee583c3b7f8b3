# Local run against the embedded moto server. The tooling exports AWS_ENDPOINT_URL and test credentials,
# TF_VAR_database_password, and TF_VAR_database_existing_port (the port of its local PostgreSQL).
environment = "local"
region      = "us-east-1"

domain_name = "example.test"
zone_name   = "example.test"

live_color     = "blue"
canary_percent = 0

# nginx answers 200 on "/" (and 404 on "/health"), so that is the path its health check probes; it writes to
# /var/cache/nginx, so its root filesystem stays writable. moto does not store the health check grace period:
# 0 reads back as what was sent (AWS's own tfvars keep the default).
blue = {
  enabled                           = true
  image                             = "public.ecr.aws/nginx/nginx:1.27"
  container_port                    = 80
  health_check_path                 = "/"
  readonly_root_filesystem          = false
  health_check_grace_period_seconds = 0
}

green = {
  enabled                           = true
  image                             = "public.ecr.aws/nginx/nginx:1.27"
  container_port                    = 80
  health_check_path                 = "/"
  readonly_root_filesystem          = false
  health_check_grace_period_seconds = 0
}

# The image is public, so the private subnets reach it through NAT (VPC endpoints reach only AWS services).
network = {
  cidr   = "10.40.0.0/16"
  azs    = ["us-east-1a", "us-east-1b"]
  egress = "nat"
}

database = {
  create        = false
  existing_host = "127.0.0.1"
  existing_port = 5432
  # Where the migrator and the tasks may reach it: this machine's loopback (a real one names its subnet, or
  # its security groups in existing_security_group_ids).
  existing_cidr_blocks = ["127.0.0.1/32"]
  # Throwaway environment: delete the secret at once so the next run can re-create it.
  secret_recovery_window_days = 0
}

log_retention_days = 1
