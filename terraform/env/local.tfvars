# Local run against the embedded moto server. The tooling exports AWS_ENDPOINT_URL and test credentials,
# TF_VAR_database_password, and TF_VAR_database_existing_port (the port of its local PostgreSQL).
environment = "local"
region      = "us-east-1"

domain_name = "example.test"
zone_name   = "example.test"

live_color     = "blue"
canary_percent = 0

blue = {
  enabled        = true
  image          = "public.ecr.aws/nginx/nginx:1.27"
  container_port = 80
}

green = {
  enabled        = true
  image          = "public.ecr.aws/nginx/nginx:1.27"
  container_port = 80
}

network = {
  cidr = "10.40.0.0/16"
  azs  = ["us-east-1a", "us-east-1b"]
}

database = {
  create        = false
  existing_host = "127.0.0.1"
  existing_port = 5432
  # Throwaway environment: delete the secret at once so the next run can re-create it.
  secret_recovery_window_days = 0
}

log_retention_days = 1
