module "network" {
  source = "../modules/network"

  name                = local.name_prefix
  cidr                = var.network.cidr
  azs                 = var.network.azs
  nat_gateway_enabled = var.network.nat_gateway_enabled
}
