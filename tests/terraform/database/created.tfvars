name       = "kit-test"
create     = true
vpc_id     = "vpc-0123456789abcdef0"
subnet_ids = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
allowed_security_group_ids = {
  migrator = "sg-0000000000000000a"
  blue     = "sg-0000000000000000b"
}
password_version     = 3
app_username         = "api"
app_password_version = 2
# green's password is rotated on its own; no colour uses the shared role any more
color_password_versions = { green = 2 }
