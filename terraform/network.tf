module "network" {
  source = "../modules/network"

  name               = local.name_prefix
  cidr               = var.network.cidr
  azs                = var.network.azs
  egress             = var.network.egress
  nat_gateway_per_az = var.network.nat_gateway_per_az
}
