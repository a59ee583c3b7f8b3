name               = "kit-test"
cidr               = "10.8.0.0/20"
azs                = ["us-east-1a", "us-east-1b"]
egress             = "nat"
nat_gateway_per_az = true
