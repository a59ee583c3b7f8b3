locals {
  # Four equal slices of the VPC: 0,1 public and 2,3 private, one of each per AZ.
  _subnets = var.enabled ? {
    for entry in flatten([
      for tier_index, tier in ["public", "private"] : [
        for az_index, az in var.azs : {
          key  = "${tier}-${az}"
          tier = tier
          az   = az
          cidr = cidrsubnet(var.cidr, 2, tier_index * 2 + az_index)
        }
      ]
    ]) : entry.key => entry
  } : {}
  _public_keys  = [for az in var.azs : "public-${az}" if var.enabled]
  _private_keys = [for az in var.azs : "private-${az}" if var.enabled]
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs are an account-level decision (central log archive); this kit does not create them.
  count = var.enabled ? 1 : 0

  cidr_block           = var.cidr
  enable_dns_hostnames = true
  enable_dns_support   = true

  tags = merge(var.tags, { Name = var.name })
}

# Adopting the default security group with no rules denies all traffic on it.
resource "aws_default_security_group" "this" {
  count = var.enabled ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "this" {
  for_each = local._subnets

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = each.value.cidr
  availability_zone = each.value.az

  tags = merge(var.tags, {
    Name = "${var.name}-${each.key}"
    Tier = each.value.tier
  })
}

resource "aws_internet_gateway" "this" {
  count = var.enabled ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_route_table" "public" {
  count = var.enabled ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = var.enabled ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  for_each = toset(local._public_keys)

  subnet_id      = aws_subnet.this[each.key].id
  route_table_id = aws_route_table.public[0].id
}

# One private route table per AZ, so that each AZ can have its own NAT gateway (nat_gateway_per_az).
resource "aws_route_table" "private" {
  for_each = toset(var.enabled ? var.azs : [])

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-private-${each.key}" })
}

resource "aws_route_table_association" "private" {
  for_each = toset(var.enabled ? var.azs : [])

  subnet_id      = aws_subnet.this["private-${each.key}"].id
  route_table_id = aws_route_table.private[each.key].id
}

# ------------------------------------------------------------------------------------- egress: NAT
# Private subnets have no route out by themselves. Fargate must pull images and ship logs, and the migrator
# must reach Secrets Manager: either through NAT (anything on the internet, e.g. public registries) or
# through VPC endpoints (AWS services only: private ECR, Secrets Manager, CloudWatch Logs, S3 for layers).

locals {
  _nat_azs = var.enabled && var.egress == "nat" ? (var.nat_gateway_per_az ? var.azs : [var.azs[0]]) : []
}

resource "aws_eip" "nat" {
  for_each = toset(local._nat_azs)

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local._nat_azs)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.this["public-${each.key}"].id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  depends_on = [aws_internet_gateway.this]
}

# Each AZ's private route table uses its own NAT gateway, or the single one.
resource "aws_route" "private_nat" {
  for_each = toset(var.enabled && var.egress == "nat" ? var.azs : [])

  route_table_id         = aws_route_table.private[each.key].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.nat_gateway_per_az ? each.key : var.azs[0]].id
}

# -------------------------------------------------------------------------------- egress: endpoints

locals {
  _interface_endpoints = var.enabled && var.egress == "endpoints" ? toset(["ecr.api", "ecr.dkr", "logs", "secretsmanager"]) : toset([])
}

data "aws_region" "current" {
  count = var.enabled ? 1 : 0
}

resource "aws_security_group" "endpoints" {
  count = var.enabled && var.egress == "endpoints" ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  count = var.enabled && var.egress == "endpoints" ? 1 : 0

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = var.cidr
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local._interface_endpoints

  vpc_id              = aws_vpc.this[0].id
  service_name        = "com.amazonaws.${data.aws_region.current[0].name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = [for key in local._private_keys : aws_subnet.this[key].id]
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# ECR keeps image layers in S3: image pulls through the ecr endpoints need this gateway endpoint, and with NAT
# it keeps the layers off the NAT gateway (a gateway endpoint is free; NAT bills every gigabyte).
resource "aws_vpc_endpoint" "s3" {
  count = var.enabled ? 1 : 0

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current[0].name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for az in var.azs : aws_route_table.private[az].id]

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}
