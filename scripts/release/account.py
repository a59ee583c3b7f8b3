"""What a fresh AWS account (or a team's own network) lacks before the first apply: the checks `make
preflight` runs besides its own. ``preflight`` imports this module (and its ``Check``); this one imports only
``verify``'s statuses.

* the service-linked roles ECS, Elastic Load Balancing and RDS act through;
* the quotas the first apply spends: Elastic IPs (NAT gateways), VPCs, Application Load Balancers, and the
  Fargate On-Demand vCPUs both colours need while they deploy (200%);
* the customer-managed KMS key (``kms_key_arn``): enabled, symmetric, in the region, and a key policy that
  lets IAM policies grant it (and CloudWatch use it, for an encrypted alarm topic);
* the hosted zone's delegation (the public name servers are the zone's) and CAA records that would stop ACM
  from issuing the certificates;
* a team's own VPC: the subnets exist in it, span two AZs, and the private ones have the egress they claim;
* an existing database: where it is can be reached from the private subnets and through the rules the tfvars
  give, and its secret exists.

Every call is read-only. What the local endpoint (moto) cannot answer prints SKIP with the reason.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Any

from scripts.release.verify import FAIL, PASS, SKIP

# (role name, service principal to create it for, needed when)
SERVICE_LINKED_ROLES = (
    ("AWSServiceRoleForECS", "ecs.amazonaws.com", "always"),
    ("AWSServiceRoleForElasticLoadBalancing", "elasticloadbalancing.amazonaws.com", "always"),
    ("AWSServiceRoleForRDS", "rds.amazonaws.com", "database"),
)
# Service Quotas codes (Service Quotas console, "AWS services"): what a first apply spends.
QUOTAS = {
    "elastic IPs": ("ec2", "L-0263D0A3"),
    "VPCs": ("vpc", "L-F678F1CE"),
    "application load balancers": ("elasticloadbalancing", "L-53DA6B97"),
    "Fargate vCPUs": ("fargate", "L-3032A538"),
}
# ACM issues only where CAA allows one of Amazon's CAs (ACM user guide, "Configure a CAA record").
AMAZON_CAS = ("amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com")
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


def _local() -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


@dataclass(frozen=True)
class Check:
    """One line of `make preflight`: PASS, FAIL or SKIP, with what to do."""

    name: str
    status: str
    detail: str


def _check(name: str, status: str, detail: str) -> Check:
    return Check(name, status, detail)


# --------------------------------------------------------------------------------- service-linked roles


def check_service_linked_roles(session, tfvars: dict[str, Any]) -> Check:
    """Found by their path, /aws-service-role/<service>/, which AWS gives every service-linked role."""
    iam = session.client("iam")
    database = (tfvars.get("database") or {}).get("create")
    missing, found = [], []
    for role, service, when in SERVICE_LINKED_ROLES:
        if when == "database" and not database:
            continue
        try:
            roles = iam.list_roles(PathPrefix=f"/aws-service-role/{service}/")["Roles"]
        except Exception as exc:
            return _check("service-linked roles", FAIL, f"cannot list IAM roles ({_code(exc)})")
        (found if roles else missing).append(role if roles else service)
    if missing:
        commands = "; ".join(f"aws iam create-service-linked-role --aws-service-name {s}" for s in missing)
        return _check(
            "service-linked roles",
            FAIL,
            f"missing for {', '.join(missing)}: a fresh account gets them on first use only if the applying "
            f"role may call iam:CreateServiceLinkedRole. Create them once: {commands}",
        )
    return _check("service-linked roles", PASS, ", ".join(found))


# ------------------------------------------------------------------------------------------------ quotas


def _needs(session, tfvars: dict[str, Any], prefix: str) -> dict[str, tuple[int, int]]:
    """What the first apply needs of each quota, and what the account already uses (not counting this
    environment's own resources, so a second preflight does not count them twice)."""
    network = tfvars.get("network") or {}
    own_vpc = not network.get("existing_vpc_id")
    nat = own_vpc and (network.get("egress") or "nat") == "nat"
    colours = [tfvars.get(c) or {} for c in ("blue", "green")]
    enabled = [c for c in colours if c.get("enabled")]
    ec2, elbv2 = session.client("ec2"), session.client("elbv2")

    def tagged_ours(tags: list[dict]) -> bool:
        return any(t["Key"] == "Name" and str(t["Value"]).startswith(prefix) for t in tags or [])

    addresses = [a for a in ec2.describe_addresses()["Addresses"] if not tagged_ours(a.get("Tags", []))]
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not tagged_ours(v.get("Tags", []))]
    balancers = [
        lb
        for page in elbv2.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancers"]
        if lb["Type"] == "application" and not lb["LoadBalancerName"].startswith(prefix)
    ]
    vcpus = sum(int(c.get("desired_count", 1)) * int(c.get("cpu", 256)) / 1024 * 2 for c in enabled)
    return {
        "elastic IPs": ((2 if network.get("nat_gateway_per_az") else 1) if nat else 0, len(addresses)),
        "VPCs": (1 if own_vpc else 0, len(vpcs)),
        "application load balancers": (len(enabled), len(balancers)),
        "Fargate vCPUs": (int(vcpus + 0.999), 0),
    }


def check_quotas(session, tfvars: dict[str, Any], prefix: str, *, local: bool | None = None) -> list:
    """Each quota the first apply spends against what the account uses. On the local endpoint (``local``,
    by default when AWS_ENDPOINT_URL is set) the quotas are moto's defaults and the usage is whatever the
    tests and demos left on that server: an overrun is reported as SKIP with the figures, never FAIL."""
    local = _local() if local is None else local
    quotas = session.client("service-quotas")
    checks = []
    for name, (need, used) in _needs(session, tfvars, prefix).items():
        service, code = QUOTAS[name]
        label = f"quota: {name}"
        if need == 0:
            checks.append(_check(label, PASS, "none needed"))
            continue
        try:
            value = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        except Exception as exc:
            if local:
                checks.append(
                    _check(label, SKIP, f"the local endpoint has no {service} quota {code} ({_code(exc)})")
                )
                continue
            checks.append(_check(label, FAIL, f"cannot read quota {service}/{code} ({_code(exc)})"))
            continue
        in_use = f"{used} in use, " if name != "Fargate vCPUs" else ""
        detail = f"{in_use}{need} needed, quota {value:g}"
        if used + need > value and local:
            checks.append(
                _check(
                    label, SKIP, f"{detail} on the local endpoint (moto's default quota, not an account's)"
                )
            )
        elif used + need > value:
            checks.append(
                _check(
                    label,
                    FAIL,
                    f"{detail}: ask for more in Service Quotas ({service} {code}) before the first apply",
                )
            )
        else:
            extra = " (plus whatever else runs on Fargate here)" if name == "Fargate vCPUs" else ""
            checks.append(_check(label, PASS, detail + extra))
    return checks


# ----------------------------------------------------------------------------------------------------- KMS


def check_kms(session, tfvars: dict[str, Any], region: str):
    key = tfvars.get("kms_key_arn")
    if not key:
        return _check("kms key", PASS, "none set: AWS-managed keys")
    kms = session.client("kms", region_name=region)
    try:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
        policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    except Exception as exc:
        return _check("kms key", FAIL, f"cannot read {key} ({_code(exc)}): the key must exist in {region}")
    problems = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"it is {meta.get('KeyState')}")
    # (Left out, the API's defaults: ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT.)
    usage, spec = meta.get("KeyUsage") or "ENCRYPT_DECRYPT", meta.get("KeySpec") or "SYMMETRIC_DEFAULT"
    if usage != "ENCRYPT_DECRYPT" or spec != "SYMMETRIC_DEFAULT":
        problems.append("it must be a symmetric ENCRYPT_DECRYPT key")
    if f":kms:{region}:" not in meta.get("Arn", key):
        problems.append(f"it is not in {region}")
    # The kit grants kms:Decrypt through IAM policies (migrator, execution roles), and RDS and Secrets Manager
    # create grants for the caller: both work only when the key policy delegates to the account's IAM.
    account = meta.get("AWSAccountId", "")
    if f"arn:aws:iam::{account}:root" not in policy and f'"{account}"' not in policy:
        problems.append(
            "its policy does not delegate to this account's IAM policies (a statement with Principal "
            f'"arn:aws:iam::{account}:root"), so the roles the kit creates could not use it'
        )
    if (tfvars.get("alarms") or {}).get("sns_topic") and "cloudwatch.amazonaws.com" not in policy:
        problems.append(
            "alarms.sns_topic is on, so its policy must let cloudwatch.amazonaws.com call kms:Decrypt and "
            "kms:GenerateDataKey* (else the encrypted topic receives nothing)"
        )
    if problems:
        return _check("kms key", FAIL, f"{key}: " + "; ".join(problems))
    return _check("kms key", PASS, f"{meta.get('KeyId')}, enabled, symmetric, policy delegates to IAM")


# ------------------------------------------------------------------------------------------------ DNS


def _resolver():
    try:
        import dns.resolver
    except ImportError:
        return None
    resolver = dns.resolver.Resolver()
    resolver.lifetime = 5
    return resolver


def check_delegation(session, tfvars: dict[str, Any]):
    zone = str(tfvars.get("zone_name") or "").rstrip(".")
    route53 = session.client("route53")
    zones = route53.list_hosted_zones_by_name(DNSName=f"{zone}.")["HostedZones"]
    match = [z for z in zones if z["Name"] == f"{zone}." and not z.get("Config", {}).get("PrivateZone")]
    if not match:
        return _check("zone delegation", SKIP, "no public zone to compare (see hosted zone)")
    if _local():
        return _check("zone delegation", SKIP, f"{zone} on the local endpoint is not delegated from anywhere")
    ours = sorted(
        n.rstrip(".").lower()
        for n in route53.get_hosted_zone(Id=match[0]["Id"])["DelegationSet"]["NameServers"]
    )
    resolver = _resolver()
    if resolver is None:
        return _check("zone delegation", SKIP, "dnspython is not installed (make venv installs it)")
    try:
        public = sorted(str(r.target).rstrip(".").lower() for r in resolver.resolve(zone, "NS"))
    except Exception as exc:
        return _check(
            "zone delegation",
            FAIL,
            f"public DNS has no NS for {zone} ({type(exc).__name__}): at the registrar (or the parent "
            f"zone), set the name servers to {', '.join(ours)}",
        )
    if public != ours:
        return _check(
            "zone delegation",
            FAIL,
            f"public DNS delegates {zone} to {', '.join(public)}, but the Route 53 zone's name servers are "
            f"{', '.join(ours)}: ACM could never validate the certificates. Set these at the registrar",
        )
    return _check("zone delegation", PASS, f"{zone} is delegated to the zone's name servers")


def _caa_issuers(route53, zone_id: str, zone: str, name: str, resolver) -> tuple[str, list[str]] | None:
    """The CAA set that governs ``name`` (the closest one climbing towards the root, as CAs look it up):
    the name it sits at, and its issue/issuewild values. None when there is none."""
    labels = name.split(".")
    for index in range(len(labels) - 1):
        level = ".".join(labels[index:])
        if level == zone or level.endswith("." + zone):
            page = route53.list_resource_record_sets(
                HostedZoneId=zone_id, StartRecordName=level, StartRecordType="CAA", MaxItems="1"
            )["ResourceRecordSets"]
            found = [
                r["Value"]
                for s in page
                if s["Name"].rstrip(".") == level and s["Type"] == "CAA"
                for r in s.get("ResourceRecords", [])
            ]
        elif resolver is not None and not _local():
            try:
                found = [r.to_text() for r in resolver.resolve(level, "CAA")]
            except Exception:
                found = []
        else:
            found = []
        if found:
            issuers = [
                v.split(None, 2)[2].strip('"').split(";")[0].strip()
                for v in found
                if len(v.split(None, 2)) == 3 and v.split(None, 2)[1].lower() in ("issue", "issuewild")
            ]
            return level, issuers
    return None


def check_caa(session, tfvars: dict[str, Any]):
    zone = str(tfvars.get("zone_name") or "").rstrip(".")
    domain = str(tfvars.get("domain_name") or zone).rstrip(".")
    names = [f"{tfvars.get('live_record_name') or 'api'}.{domain}", f"blue.{domain}", f"green.{domain}"]
    route53 = session.client("route53")
    zones = route53.list_hosted_zones_by_name(DNSName=f"{zone}.")["HostedZones"]
    match = [z for z in zones if z["Name"] == f"{zone}." and not z.get("Config", {}).get("PrivateZone")]
    if not match:
        return _check("CAA", SKIP, "no public zone to read (see hosted zone)")
    resolver = _resolver()
    for name in names:
        governing = _caa_issuers(route53, match[0]["Id"], zone, name, resolver)
        if governing and not any(i.lower() in AMAZON_CAS for i in governing[1]):
            level, issuers = governing
            return _check(
                "CAA",
                FAIL,
                f"the CAA records at {level} allow only {', '.join(issuers) or 'no CA'}, so ACM cannot issue "
                f'the certificate for {name}: add a CAA record 0 issue "amazon.com" there',
            )
    above = "" if resolver is not None and not _local() else " (names above the zone not looked up here)"
    return _check("CAA", PASS, f"no CAA record forbids Amazon's CAs for {', '.join(names)}{above}")


# ------------------------------------------------------------------------------ your own VPC and database


def _route_tables(ec2, vpc_id: str, subnet_ids: list[str]) -> dict[str, dict]:
    """Each subnet's route table: its explicit association, else the VPC's main table."""
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    by_subnet = {a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")}
    return {subnet: by_subnet.get(subnet, main) or {} for subnet in subnet_ids}


def _routes_to(table: dict, address: ipaddress.IPv4Address) -> bool:
    return any(
        route.get("State", "active") == "active"
        and route.get("DestinationCidrBlock")
        and address in ipaddress.ip_network(route["DestinationCidrBlock"])
        for route in table.get("Routes", [])
    )


def check_network(session, tfvars: dict[str, Any], region: str):
    network = tfvars.get("network") or {}
    vpc_id = network.get("existing_vpc_id")
    if not vpc_id:
        return _check("network", PASS, "the kit creates the VPC")
    ec2 = session.client("ec2", region_name=region)
    public, private = (
        list(network.get("public_subnet_ids") or []),
        list(network.get("private_subnet_ids") or []),
    )
    try:
        subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=public + private)["Subnets"]}
    except Exception as exc:
        return _check("network", FAIL, f"cannot read the subnets of {vpc_id} ({_code(exc)}): check their IDs")
    problems = [f"{s} is not in {vpc_id}" for s, subnet in subnets.items() if subnet["VpcId"] != vpc_id]
    for tier, ids in (("public", public), ("private", private)):
        if len({subnets[s]["AvailabilityZone"] for s in ids if s in subnets}) < 2:
            problems.append(f"the {tier} subnets span fewer than two availability zones")
    tables = _route_tables(ec2, vpc_id, public + private)
    internet = ipaddress.ip_address("8.8.8.8")
    for subnet in public:
        if not any(r.get("GatewayId", "").startswith("igw-") for r in tables[subnet].get("Routes", [])):
            problems.append(f"public subnet {subnet} has no route to an internet gateway (the ALB needs one)")
    egress = network.get("egress") or "nat"
    if egress == "nat":
        problems += [
            f"private subnet {s} has no default route (NAT or transit gateway): tasks cannot pull images"
            for s in private
            if not _routes_to(tables[s], internet)
        ]
    else:
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
            "VpcEndpoints"
        ]
        have = {
            e["ServiceName"].rsplit(".", 1)[-1]
            if ".ecr." not in e["ServiceName"]
            else ".".join(e["ServiceName"].split(".")[-2:])
            for e in endpoints
        }
        lacking = [s for s in (*INTERFACE_ENDPOINTS, "s3") if s not in have]
        if lacking:
            problems.append(f'egress = "endpoints", but {vpc_id} has no endpoint for {", ".join(lacking)}')
    if problems:
        return _check("network", FAIL, "; ".join(problems))
    return _check("network", PASS, f"{vpc_id}: subnets in two AZs, {egress} egress from the private ones")


def check_database(session, tfvars: dict[str, Any], region: str):
    """An existing database: its address is reachable from the private subnets, through the rules the tfvars
    give, and the migrator's secret exists. (A TCP connection from this machine would prove nothing about the
    VPC; the route and the rules are what the migrator and the tasks depend on.)"""
    database = tfvars.get("database") or {}
    if database.get("create"):
        return _check("database", PASS, "the kit creates it (RDS), reachable by its security group")
    host = str(database.get("existing_host") or "")
    network = tfvars.get("network") or {}
    problems = []
    secret = database.get("existing_secret_arn")
    if secret:
        try:
            described = session.client("secretsmanager", region_name=region).describe_secret(SecretId=secret)
            if not any("AWSCURRENT" in stages for stages in described.get("VersionIdsToStages", {}).values()):
                problems.append(
                    f"secret {secret} has no current value: put the migrator user's credentials in it"
                )
        except Exception as exc:
            problems.append(f"secret {secret} cannot be read ({_code(exc)})")
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
    except (OSError, ValueError, IndexError):
        return _check(
            "database",
            FAIL if problems else SKIP,
            "; ".join([*problems, f"{host} does not resolve from here (a private zone?): route not checked"]),
        )
    if address.is_loopback:
        return _check(
            "database",
            FAIL if problems else SKIP,
            "; ".join(
                [*problems, f"{host} is this machine (the local default): nothing in a VPC reaches it"]
            ),
        )
    cidrs = [ipaddress.ip_network(c) for c in database.get("existing_cidr_blocks") or []]
    if cidrs and not database.get("existing_security_group_ids") and not any(address in c for c in cidrs):
        problems.append(
            f"{host} is {address}, outside database.existing_cidr_blocks "
            f"{[str(c) for c in cidrs]}: the egress rules would not let the migrator reach it"
        )
    if network.get("existing_vpc_id"):
        ec2 = session.client("ec2", region_name=region)
        private = list(network.get("private_subnet_ids") or [])
        tables = _route_tables(ec2, network["existing_vpc_id"], private)
        problems += [
            f"private subnet {s} has no route to {address}"
            for s in private
            if not _routes_to(tables[s], address)
        ]
    elif address not in ipaddress.ip_network(network.get("cidr") or "10.40.0.0/16") and (
        (network.get("egress") or "nat") == "endpoints" or not address.is_global
    ):
        problems.append(
            f"{host} is {address}, outside the VPC the kit creates, which has no route to it: bring your "
            "own VPC with one (network.existing_vpc_id)"
        )
    if problems:
        return _check("database", FAIL, "; ".join(problems))
    return _check("database", PASS, f"{host} ({address}) is routed from the private subnets and admitted")
