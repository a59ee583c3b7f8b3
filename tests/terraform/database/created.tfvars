name                = "kit-test"
create              = true
vpc_id              = "vpc-0123456789abcdef0"
subnet_ids          = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
allowed_cidr_blocks = ["10.40.0.0/16"]
password_version    = 3
