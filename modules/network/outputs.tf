output "nat_gateway_id" {
  description = "ID of the NAT gateway, or null when nat_gateway_enabled is false or the module is disabled."
  value       = one(aws_nat_gateway.this[*].id)
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

output "vpc_id" {
  description = "ID of the VPC, or null when disabled."
  value       = one(aws_vpc.this[*].id)
}
