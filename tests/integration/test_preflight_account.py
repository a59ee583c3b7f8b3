"""`make preflight` on a fresh account and a team's own network (scripts/release/account.py), against moto.

moto lacks the Service Quotas of EC2, ELB and Fargate (only VPC's are there): the quota test hands out a
Service Quotas client whose answers are stubbed (botocore's Stubber), and says so. DNS delegation and CAA
records above the hosted zone need public DNS, which this machine does not have: the CAA test uses records in
the Route 53 zone itself, which the check reads through Route 53.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.stub import Stubber
from test_preflight import ACCOUNT, TODAY, _by_name, _stub_quota, account  # noqa: F401 - the fixture

from scripts.release import account as account_checks
from scripts.release import preflight
from scripts.release.verify import FAIL, PASS


def _tfvars(env_dir, old: str, new: str) -> None:
    path = env_dir / "preflight.tfvars"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_rds_service_linked_role_is_missing_on_a_fresh_account(account, monkeypatch):  # noqa: F811
    session, _ = account
    _stub_quota(monkeypatch, session, total=1000, unreserved=1000)
    check = _by_name(preflight.preflight("preflight", session, today=TODAY))["service-linked roles"]
    # `make up` created ECS's and ELB's (a used account has them); RDS's is missing until first used
    assert check.status == FAIL
    assert "aws iam create-service-linked-role --aws-service-name rds.amazonaws.com" in check.detail
    assert "ecs.amazonaws.com" not in check.detail


def test_the_quotas_the_first_apply_spends(account):  # noqa: F811
    session, _ = account
    tfvars = preflight.read_tfvars(account[1] / "preflight.tfvars")
    client = session.client("service-quotas")
    stubber = Stubber(client)  # moto has no EC2, ELB or Fargate quotas: these answers are stubbed
    for code, value in (("L-0263D0A3", 1), ("L-F678F1CE", 5), ("L-53DA6B97", 50), ("L-3032A538", 4)):
        stubber.add_response(
            "get_service_quota",
            {"Quota": {"QuotaCode": code, "Value": value}},
            {"ServiceCode": account_checks.QUOTAS[_name(code)][0], "QuotaCode": code},
        )
    stubber.activate()
    real = session.client
    checks = {
        c.name: c
        for c in account_checks.check_quotas(
            _Session(real, client), tfvars, "release-kit-production", local=False
        )
    }
    # The example: one NAT gateway per AZ needs two Elastic IPs; two colours of 2 tasks x 0.5 vCPU at 200%
    assert checks["quota: elastic IPs"].status == FAIL
    assert "2 needed, quota 1" in checks["quota: elastic IPs"].detail
    assert checks["quota: application load balancers"].status == PASS
    assert checks["quota: Fargate vCPUs"].status == PASS
    assert checks["quota: Fargate vCPUs"].detail.startswith("4 needed, quota 4")


def _name(code: str) -> str:
    return next(name for name, (_, quota) in account_checks.QUOTAS.items() if quota == code)


class _Session:
    def __init__(self, real, quotas):
        self._real, self._quotas = real, quotas

    def client(self, name, **kwargs):
        return self._quotas if name == "service-quotas" else self._real(name, **kwargs)


def test_a_kms_key_must_delegate_to_iam_and_let_cloudwatch_use_it_for_the_topic(account):  # noqa: F811
    session, _ = account
    kms = session.client("kms")
    key = kms.create_key(Description="preflight test")["KeyMetadata"]
    tfvars = {"kms_key_arn": key["Arn"], "alarms": {"sns_topic": True}}
    check = account_checks.check_kms(session, tfvars, "eu-west-1")
    # moto's default key policy delegates to the account's IAM, but names no CloudWatch
    assert check.status == FAIL and "cloudwatch.amazonaws.com" in check.detail
    assert "delegate" not in check.detail
    assert account_checks.check_kms(session, {"kms_key_arn": key["Arn"]}, "eu-west-1").status == PASS
    kms.disable_key(KeyId=key["KeyId"])
    disabled = account_checks.check_kms(session, {"kms_key_arn": key["Arn"]}, "eu-west-1")
    assert disabled.status == FAIL and "it is Disabled" in disabled.detail


def test_caa_records_that_forbid_amazon_stop_the_first_apply(account):  # noqa: F811
    session, _ = account
    route53 = session.client("route53")
    zone = route53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]["Id"]
    # A domain of its own per run: moto cannot re-create a record it has deleted
    domain = f"caa-{uuid.uuid4().hex[:8]}.example.com"

    def caa(value: str) -> None:
        record = {"Name": f"{domain}.", "Type": "CAA", "TTL": 300, "ResourceRecords": [{"Value": value}]}
        route53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        )

    tfvars = {"zone_name": "example.com", "domain_name": domain}
    caa('0 issue "letsencrypt.org"')
    check = account_checks.check_caa(session, tfvars)
    # api.<domain> has no CAA of its own, so the CA climbs to <domain>, whose record names another CA only
    assert check.status == FAIL
    assert f"the CAA records at {domain} allow only letsencrypt.org" in check.detail
    assert 'add a CAA record 0 issue "amazon.com"' in check.detail
    caa('0 issue "amazon.com"')
    assert account_checks.check_caa(session, tfvars).status == PASS


@pytest.fixture
def own_vpc(account):  # noqa: F811
    """A team's VPC in eu-west-1: public subnets behind an internet gateway, private ones with no way out."""
    session, _ = account
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    private_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    subnets = {}
    for index, (tier, az) in enumerate(
        [
            ("public", "eu-west-1a"),
            ("public", "eu-west-1b"),
            ("private", "eu-west-1a"),
            ("private", "eu-west-1b"),
        ]
    ):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{index}.0/24", AvailabilityZone=az)
        subnet_id = subnet["Subnet"]["SubnetId"]
        table = public_table if tier == "public" else private_table
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
        subnets.setdefault(tier, []).append(subnet_id)
    network = {
        "existing_vpc_id": vpc,
        "public_subnet_ids": subnets["public"],
        "private_subnet_ids": subnets["private"],
    }
    return session, ec2, network, private_table, igw


def test_your_own_vpc_must_have_the_egress_it_claims(own_vpc):
    session, ec2, network, private_table, igw = own_vpc
    check = account_checks.check_network(session, {"network": {**network, "egress": "nat"}}, "eu-west-1")
    assert check.status == FAIL
    assert f"private subnet {network['private_subnet_ids'][0]} has no default route" in check.detail
    endpoints = account_checks.check_network(
        session, {"network": {**network, "egress": "endpoints"}}, "eu-west-1"
    )
    assert "has no endpoint for ecr.api, ecr.dkr, logs, secretsmanager, s3" in endpoints.detail
    # A default route (here through the gateway moto has; a NAT gateway on AWS) makes it pass
    ec2.create_route(RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert (
        account_checks.check_network(session, {"network": {**network, "egress": "nat"}}, "eu-west-1").status
        == PASS
    )


def test_an_existing_database_must_be_routed_admitted_and_have_its_secret(own_vpc):
    session, ec2, network, private_table, _ = own_vpc
    database = {
        "create": False,
        "existing_host": "10.70.1.5",  # another VPC, e.g. behind peering
        "existing_cidr_blocks": ["10.70.1.0/24"],
        "existing_secret_arn": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:orders/migrator-AbCdEf",
    }
    check = account_checks.check_database(session, {"network": network, "database": database}, "eu-west-1")
    assert check.status == FAIL
    assert "orders/migrator-AbCdEf cannot be read (ResourceNotFoundException)" in check.detail
    assert f"private subnet {network['private_subnet_ids'][0]} has no route to 10.70.1.5" in check.detail
    # The peering route, the secret, and a CIDR that covers the host: reachable
    peering = ec2.create_vpc_peering_connection(
        VpcId=network["existing_vpc_id"], PeerVpcId=ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.create_route(
        RouteTableId=private_table, DestinationCidrBlock="10.70.0.0/16", VpcPeeringConnectionId=peering
    )
    secret = session.client("secretsmanager").create_secret(
        Name="orders/migrator", SecretString=json.dumps({"username": "migrator", "password": "x" * 20})
    )["ARN"]
    try:
        good = {**database, "existing_secret_arn": secret}
        check = account_checks.check_database(session, {"network": network, "database": good}, "eu-west-1")
        assert check.status == PASS, check.detail
        wrong_cidr = {**good, "existing_cidr_blocks": ["10.70.9.0/24"]}
        check = account_checks.check_database(
            session, {"network": network, "database": wrong_cidr}, "eu-west-1"
        )
        assert check.status == FAIL and "outside database.existing_cidr_blocks" in check.detail
    finally:
        session.client("secretsmanager").delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)


def test_a_database_outside_the_kits_vpc_is_unreachable_with_endpoints(account):  # noqa: F811
    session, _ = account
    tfvars = {
        "network": {"cidr": "10.40.0.0/16", "egress": "endpoints"},
        "database": {"create": False, "existing_host": "10.70.1.5", "existing_cidr_blocks": ["10.70.1.0/24"]},
    }
    check = account_checks.check_database(session, tfvars, "eu-west-1")
    assert (
        check.status == FAIL and "outside the VPC the kit creates, which has no route to it" in check.detail
    )
