# The same provider block everywhere. A local run differs only by environment variables
# (AWS_ENDPOINT_URL and test credentials) and its tfvars file.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
