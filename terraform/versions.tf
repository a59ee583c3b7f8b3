terraform {
  required_version = ">= 1.11.1, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: give the rest with -backend-config=env/<environment>.s3.tfbackend.
  backend "s3" {}
}
