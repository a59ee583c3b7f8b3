name                 = "kit-test"
environment          = "test"
package_path         = "fixture-migrator.zip"
vpc_id               = "vpc-0123456789abcdef0"
subnet_ids           = ["subnet-0000000000000000c", "subnet-0000000000000000d"]
secret_arn           = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/migrator-AbCdEf"
database_cidr_blocks = ["10.40.0.0/16"]
ready_path           = "/kit-test/migrator/roles-ready"
app_group            = "api"
color_roles          = { blue = "api_blue", green = "api_green" }
color_secret_arns = {
  blue  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/api_blue-AbCdEf"
  green = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/api_green-AbCdEf"
}
