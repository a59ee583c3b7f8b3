# The VPC: the kit's own (module.network), or the team's (network.existing_vpc_id and subnet IDs, the
# terraform-aws-modules way), in which case the kit creates no network resources at all.
module "network" {
  source = "../modules/network"

  enabled            = var.network.existing_vpc_id == null
  name               = local.name_prefix
  cidr               = var.network.cidr
  azs                = var.network.azs
  egress             = var.network.egress
  nat_gateway_per_az = var.network.nat_gateway_per_az
}

locals {
  vpc_id             = coalesce(var.network.existing_vpc_id, module.network.vpc_id)
  public_subnet_ids  = var.network.existing_vpc_id == null ? module.network.public_subnet_ids : var.network.public_subnet_ids
  private_subnet_ids = var.network.existing_vpc_id == null ? module.network.private_subnet_ids : var.network.private_subnet_ids
}
