output "egress" {
  description = "How private subnets reach the outside: \"nat\" or \"endpoints\" (null when disabled)."
  value       = var.enabled ? var.egress : null
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways by AZ (empty unless egress = \"nat\")."
  value       = { for az, nat in aws_nat_gateway.this : az => nat.id }
}

output "private_route_table_ids" {
  description = "IDs of the private route tables by AZ (empty when disabled)."
  value       = { for az, table in aws_route_table.private : az => table.id }
}

output "private_subnet_ids" {
  description = "IDs of the two private subnets, in the order of var.azs (empty when disabled)."
  value       = [for key in local._private_keys : aws_subnet.this[key].id]
}

output "public_subnet_ids" {
  description = "IDs of the two public subnets, in the order of var.azs (empty when disabled)."
  value       = [for key in local._public_keys : aws_subnet.this[key].id]
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC, or null when disabled."
  value       = one(aws_vpc.this[*].cidr_block)
}

output "vpc_endpoint_ids" {
  description = "IDs of the VPC endpoints by service: the S3 gateway endpoint always, the interface endpoints with egress = \"endpoints\" (empty when disabled)."
  value       = merge({ for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }, { for endpoint in aws_vpc_endpoint.s3 : "s3" => endpoint.id })
}

output "vpc_id" {
  description = "ID of the VPC, or null when disabled."
  value       = one(aws_vpc.this[*].id)
}
