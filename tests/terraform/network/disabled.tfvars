enabled = false
name    = "kit-test"
azs     = ["us-east-1a", "us-east-1b"]
egress  = "endpoints"
