"""Stack config: tier defaults, field and cross-field validation, error messages, schema."""

import ipaddress
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config.aws_models import SubnetPlanError, plan_subnets
from stacks.config.loader import CONFIG_NAMESPACE, UNREAD_PROVIDER_NAMESPACES, ConfigError, parse_platform_config
from stacks.config.schema import stack_file_schema
from stacks.config.units import kb_to_pages, parse_memory_kb
from tests.conftest import assert_rejected_before_any_resource
from tools.synth import read_stack_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READ_NAMESPACES = (CONFIG_NAMESPACE, *UNREAD_PROVIDER_NAMESPACES)  # what stacks.config.loader takes from the runtime


def parse(stack: str, config: dict[str, Any] | None = None):
    raw = config if config is not None else read_stack_config(stack)
    ours = {k: v for k, v in raw.items() if k.split(":", 1)[0] in READ_NAMESPACES}
    return parse_platform_config(ours, stack)


# -- the real stack files ------------------------------------------------------------


def test_tier_defaults_fill_what_stack_files_leave_out():
    dev, staging, prod = parse("dev"), parse("staging"), parse("prod")
    # None of the stack files mention these; they come from stacks/config/tiers.py.
    for stack in ("dev", "staging", "prod"):
        assert "natGateways" not in read_stack_config(stack)["platform:aws"]["network"]
    assert (dev.aws.network.nat_gateways, staging.aws.network.nat_gateways, prod.aws.network.nat_gateways) == (
        "single",
        "perAz",
        "perAz",
    )
    assert (dev.protect, staging.protect, prod.protect) == (False, False, True)
    assert prod.aws.network.flow_log_retention_days == 365
    assert dev.aws.network.flow_log_retention_days == 14
    assert prod.aws.eks.node_groups.general.min_size == 3
    assert prod.aws.eks.node_groups.high_cpu.instance_types == ["c6i.4xlarge"]
    # The HEAL7 design's data tier in prod; smaller, cheaper shapes in dev.
    assert (prod.aws.rds.instance_class, prod.aws.rds.allocated_storage, prod.aws.rds.max_allocated_storage) == (
        "db.r6g.xlarge",
        1000,
        5000,
    )
    assert (prod.aws.redis.node_type, prod.aws.redis.node_count) == ("cache.r6g.large", 3)
    assert (dev.aws.rds.instance_class, dev.aws.rds.multi_az) == ("db.t4g.medium", False)
    assert (prod.aws.log_retention_days, staging.aws.log_retention_days, dev.aws.log_retention_days) == (90, 30, 14)


def test_postgres_tuning_converts_human_units_to_rds_units():
    """The HEAL7 design's `ALTER SYSTEM` values, in the units RDS parameter groups take."""
    assert parse("prod").aws.rds.tuning.rds_values() == {
        "max_connections": "200",
        "shared_buffers": "524288",  # 4GB = 4194304 kB = 524288 pages of 8 kB
        "effective_cache_size": "1572864",  # 12GB = 12582912 kB = 1572864 pages
        "work_mem": "16384",  # 16MB in kB
        "maintenance_work_mem": "524288",  # 512MB in kB
    }
    assert parse("dev").aws.rds.tuning.rds_values()["shared_buffers"] == "131072"  # 1GB for a 4 GiB class


@pytest.mark.parametrize(("text", "kb"), [("8kB", 8), ("16MB", 16384), ("4GB", 4194304), ("1TB", 1073741824)])
def test_memory_sizes_use_postgres_binary_units(text, kb):
    assert parse_memory_kb(text) == kb


@pytest.mark.parametrize("text", ["4096", "4gb", "4 GiB", "-1GB", "1.5GB"])
def test_memory_sizes_reject_other_spellings(text):
    with pytest.raises(ValueError, match="expected a size such as"):
        parse_memory_kb(text)


def test_buffer_sizes_must_be_whole_pages():
    with pytest.raises(ValueError, match="expected a multiple of 8kB"):
        kb_to_pages(parse_memory_kb("12kB"))


def test_stack_file_value_overrides_tier_default(stack_config):
    config = stack_config("dev")
    config["platform:aws"]["network"]["natGateways"] = "perAz"
    assert parse("dev", config).aws.network.nat_gateways == "perAz"


def test_stack_files_are_realistic():
    prod = parse("prod")
    assert prod.aws_region == "ap-northeast-2"
    assert prod.gcp_region == "asia-northeast3"
    assert prod.cloudflare.zone == "heal7.com"
    assert len(prod.aws.availability_zones) == 3
    assert str(prod.gcp.network.master_cidr) == "172.16.0.0/28"  # the HEAL7 design's control-plane range
    assert prod.resource_prefix == "heal7-prod"
    assert prod.common_tags == {
        "project": "heal7",
        "environment": "prod",
        "owner": "platform-team",
        "cost-center": "heal7-platform",
        "managed-by": "pulumi",
    }


def test_stacks_do_not_share_address_space():
    """Each stack gets its own ranges, so stacks can be peered or VPN'd later."""
    ranges = []
    for stack in ("dev", "staging", "prod"):
        config = parse(stack)
        ranges += [config.aws.network.vpc_cidr, config.gcp.network.subnet_cidr, config.gcp.network.pods_cidr]
    for i, first in enumerate(ranges):
        assert not any(first.overlaps(second) for second in ranges[i + 1 :])


def test_subnets_sit_in_fixed_slots_by_zone_letter():
    vpc = ipaddress.IPv4Network("10.30.0.0/16")
    plan = plan_subnets(vpc, ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"], 19, 24)
    assert [str(n) for n in plan.private] == ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"]
    assert [str(n) for n in plan.public] == ["10.30.192.0/24", "10.30.193.0/24", "10.30.194.0/24"]
    # Dropping zone b leaves a and c exactly where they were: nothing is replaced.
    without_b = plan_subnets(vpc, ["ap-northeast-2a", "ap-northeast-2c"], 19, 24)
    assert without_b.private == [plan.private[0], plan.private[2]]
    assert without_b.public == [plan.public[0], plan.public[2]]
    # Adding zone d takes its own slot.
    with_d = plan_subnets(vpc, ["ap-northeast-2a", "ap-northeast-2c", "ap-northeast-2d"], 19, 24)
    assert [str(n) for n in with_d.private] == ["10.30.0.0/19", "10.30.64.0/19", "10.30.96.0/19"]


@pytest.mark.parametrize(
    ("vpc", "private", "public", "key", "message"),
    [
        ("10.30.0.0/18", 19, 24, "network.vpcCidr", "10.30.0.0/18 holds fewer than 7 /19 blocks"),
        ("10.30.0.0/20", 19, 24, "network.privateSubnetPrefix", "/19 is larger than the VPC 10.30.0.0/20"),
        ("10.30.0.0/16", 19, 20, "network.publicSubnetPrefix", "cannot hold 6 /20 subnets"),
        ("10.30.0.0/16", 19, 18, "network.publicSubnetPrefix", "cannot hold 6 /18 subnets"),
    ],
)
def test_subnet_plan_names_the_key_that_does_not_fit(vpc, private, public, key, message):
    with pytest.raises(SubnetPlanError, match=message) as caught:
        plan_subnets(ipaddress.IPv4Network(vpc), ["ap-northeast-2a"], private, public)
    assert caught.value.key == key


# -- bad configs: each is rejected with the key named and nothing registered ----------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Mutation that sets `platform:aws.network.vpcCidr`-style paths (list index as int)."""

    def mutate(config: dict[str, Any]) -> None:
        top, *rest = path.split(".")
        if not rest:
            config[top] = value
            return
        node = config.setdefault(top, {})
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        top, *rest = path.split(".")
        if not rest:
            del config[top]
            return
        node = config[top]
        for part in rest[:-1]:
            node = node[part]
        del node[rest[-1]]

    return mutate


BAD_CONFIGS: list[tuple[str, Mutation, str]] = [
    (
        "unknown nested key (typo)",
        _set("platform:aws.network.natGateway", "single"),
        "platform:aws.network.natGateway: unknown key; expected one of:",
    ),
    ("unknown top-level platform key", _set("platform:regoin", "ap-northeast-2"), "platform:regoin: unknown key"),
    (
        "wrong type",
        _set("platform:aws.network.flowLogRetentionDays", "a year"),
        "platform:aws.network.flowLogRetentionDays: Input should be a valid integer",
    ),
    (
        "retention CloudWatch does not offer",
        _set("platform:aws.network.flowLogRetentionDays", 45),
        "platform:aws.network.flowLogRetentionDays: expected one of CloudWatch's retention values",
    ),
    (
        "GCP subnet inside the AWS VPC",
        _set("platform:gcp.network.subnetCidr", "10.30.128.0/20"),
        "platform:gcp.network.subnetCidr: expected a range that does not overlap platform:aws.network.vpcCidr",
    ),
    (
        "GKE pods over the EKS service range",
        _set("platform:gcp.network.podsCidr", "172.20.0.0/14"),
        "platform:gcp.network.podsCidr: expected a range that does not overlap platform:aws.eks.serviceCidr",
    ),
    (
        "too few AZs in prod",
        _set("platform:aws.availabilityZones", ["ap-northeast-2a"]),
        "platform:aws.availabilityZones: expected at least 2 AZs",
    ),
    (
        "duplicate AZs",
        _set("platform:aws.availabilityZones", ["ap-northeast-2a", "ap-northeast-2a"]),
        "platform:aws.availabilityZones: expected distinct AZs",
    ),
    (
        "AZ outside aws:region",
        _set("platform:aws.availabilityZones", ["ap-northeast-2a", "ap-northeast-1c"]),
        "platform:aws.availabilityZones[1]: expected an AZ of aws:region ap-northeast-2",
    ),
    (
        "min > max",
        _set("platform:aws.eks.nodeGroups.general", {"minSize": 5, "desiredSize": 5, "maxSize": 3}),
        "platform:aws.eks.nodeGroups.general: expected minSize <= desiredSize <= maxSize",
    ),
    (
        "missing required VPC CIDR",
        _delete("platform:aws.network.vpcCidr"),
        "platform:aws.network.vpcCidr: required key is missing",
    ),
    ("missing provider key", _delete("gcp:project"), "gcp:project: required key is missing"),
    (
        "CIDR with host bits",
        _set("platform:aws.network.vpcCidr", "10.30.0.1/16"),
        "platform:aws.network.vpcCidr: Input is not a valid IPv4 network",
    ),
    (
        "VPC larger than AWS allows",
        _set("platform:aws.network.vpcCidr", "10.0.0.0/12"),
        "platform:aws.network.vpcCidr: AWS VPCs must be between /16 and /28",
    ),
    (
        "subnets do not fit the VPC",
        _set("platform:aws.network.vpcCidr", "10.30.0.0/18"),
        "platform:aws.network.vpcCidr: 10.30.0.0/18 holds fewer than 7 /19 blocks",
    ),
    (
        "GKE control plane not a /28",
        _set("platform:gcp.network.masterCidr", "172.16.0.0/24"),
        "platform:gcp.network.masterCidr: GKE private clusters need a /28",
    ),
    (
        "single NAT in prod",
        _set("platform:aws.network.natGateways", "single"),
        "platform:aws.network.natGateways: prod needs 'perAz'",
    ),
    (
        "unprotected prod",
        _set("platform:protect", "false"),
        "platform:protect: prod must protect its stateful resources",
    ),
    (
        "switch that is not true/false",
        _set("platform:protect", "yes"),
        "platform:protect: expected true or false, got 'yes'",
    ),
    (
        "provider key an explicit provider ignores",
        _set("aws:profile", "prod-admin"),
        "aws:profile: explicit providers do not read this key",
    ),
    (
        "missing tier",
        _delete("platform:environment"),
        "platform:environment: required key is missing; expected dev, staging or prod",
    ),
    (
        "unknown tier",
        _set("platform:environment", "production"),
        "platform:environment: expected one of dev, staging, prod, got 'production'",
    ),
    (
        "tag value GCP labels reject",
        _set("platform:tags.owner", "Platform Team"),
        "platform:tags.owner: String should match pattern",
    ),
    (
        "enum value misspelt",
        _set("platform:aws.network.natGateways", "per-az"),
        "platform:aws.network.natGateways: Input should be 'single' or 'perAz'",
    ),
    # -- EKS, data stores, backups (issue 3) --
    (
        "EKS version below the minimum",
        _set("platform:aws.eks.version", "1.31"),
        "platform:aws.eks.version: expected an EKS version >= 1.34 (standard support), got '1.31'",
    ),
    (
        "EKS version written as a YAML number",
        _set("platform:aws.eks.version", 1.3),
        'platform:aws.eks.version: expected a quoted version such as "1.35"',
    ),
    (
        "EKS public endpoint open to the internet",
        _set("platform:aws.eks.publicAccessCidrs", ["0.0.0.0/0"]),
        "platform:aws.eks.publicAccessCidrs: CIS EKS 5.4.1: the public endpoint must not be open to the internet",
    ),
    (
        "EKS public endpoint given a private range",
        _set("platform:aws.eks.publicAccessCidrs", ["10.0.0.0/8"]),
        "platform:aws.eks.publicAccessCidrs: expected public ranges",
    ),
    (
        "EKS without admins",
        _set("platform:aws.eks.adminRoles", []),
        "platform:aws.eks.adminRoles: List should have at least 1 item",
    ),
    (
        "PostgreSQL major below the minimum",
        _set("platform:aws.rds.engineMajorVersion", 13),
        "platform:aws.rds.engineMajorVersion: Input should be greater than or equal to 14, got 13",
    ),
    (
        "invalid RDS instance class",
        _set("platform:aws.rds.instanceClass", "r6g.xlarge"),
        "platform:aws.rds.instanceClass: String should match pattern",
    ),
    (
        "RDS storage below gp3's minimum",
        _set("platform:aws.rds.allocatedStorage", 5),
        "platform:aws.rds.allocatedStorage: Input should be greater than or equal to 20, got 5",
    ),
    (
        "RDS storage beyond gp3's maximum",
        _set("platform:aws.rds.maxAllocatedStorage", 100000),
        "platform:aws.rds.maxAllocatedStorage: Input should be less than or equal to 65536, got 100000",
    ),
    (
        "RDS autoscaling ceiling under the start size",
        _set("platform:aws.rds.maxAllocatedStorage", 500),
        "platform:aws.rds.maxAllocatedStorage: expected at least 10 % above allocatedStorage (1000), i.e. >= 1100",
    ),
    (
        "RDS backups kept under a week",
        _set("platform:aws.rds.backupRetentionDays", 3),
        "platform:aws.rds.backupRetentionDays: Input should be greater than or equal to 7, got 3",
    ),
    (
        "RDS single-AZ in prod",
        _set("platform:aws.rds.multiAz", False),
        "platform:aws.rds.multiAz: prod needs a standby in a second AZ",
    ),
    (
        "prod without cross-region backups",
        _delete("platform:aws.rds.backupReplicaRegion"),
        "platform:aws.rds.backupReplicaRegion: prod must copy automated backups to a second region",
    ),
    (
        "backup copy into the same region",
        _set("platform:aws.rds.backupReplicaRegion", "ap-northeast-2"),
        "platform:aws.rds.backupReplicaRegion: expected a region other than aws:region",
    ),
    (
        "memory size without a unit",
        _set(
            "platform:aws.rds.tuning",
            {
                "maxConnections": 200,
                "sharedBuffers": "4096",
                "effectiveCacheSize": "12GB",
                "workMem": "16MB",
                "maintenanceWorkMem": "512MB",
            },
        ),
        "platform:aws.rds.tuning.sharedBuffers: expected a size such as '512MB' or '4GB'",
    ),
    (
        "malformed backup window",
        _set("platform:aws.rds.backupWindow", "3am-4am"),
        "platform:aws.rds.backupWindow: String should match pattern",
    ),
    (
        "invalid cache node type",
        _set("platform:aws.redis.nodeType", "r6g.large"),
        "platform:aws.redis.nodeType: String should match pattern",
    ),
    (
        "Redis without a replica to fail over to",
        _set("platform:aws.redis.nodeCount", 1),
        "platform:aws.redis.nodeCount: Input should be greater than or equal to 2, got 1",
    ),
    (
        "backups to Glacier before IA's 30 days are up",
        _set("platform:aws.backups", {"infrequentAccessAfterDays": 60, "glacierAfterDays": 75}),
        "platform:aws.backups.glacierAfterDays: expected glacierAfterDays >= infrequentAccessAfterDays + 30",
    ),
    (
        "Cloud SQL range too small",
        _set("platform:gcp.network.privateServiceAccessCidr", "10.138.0.0/28"),
        "platform:gcp.network.privateServiceAccessCidr: private service access needs a /24 or larger",
    ),
    (
        "Cloud SQL range inside the AWS VPC",
        _set("platform:gcp.network.privateServiceAccessCidr", "10.30.240.0/20"),
        "platform:gcp.network.privateServiceAccessCidr: expected a range that does not overlap platform:aws.network.vpcCidr",
    ),
    # -- GCP and the cross-cloud link (issue 4) --
    (
        "replica major differs from the RDS primary",
        _set("platform:gcp.cloudSql.engineMajorVersion", 15),
        "platform:gcp.cloudSql.engineMajorVersion: expected the RDS primary's major version "
        "(platform:aws.rds.engineMajorVersion = 16), got 15",
    ),
    (
        "RDS upgraded without the replica",
        _set("platform:aws.rds.engineMajorVersion", 17),
        "platform:gcp.cloudSql.engineMajorVersion: expected the RDS primary's major version "
        "(platform:aws.rds.engineMajorVersion = 17), got 16",
    ),
    (
        "equal BGP ASNs",
        _set("platform:gcp.vpn", {"gcpAsn": 64512, "awsAsn": 64512}),
        "platform:gcp.vpn: expected gcpAsn and awsAsn to differ (eBGP between the clouds), got both 64512",
    ),
    (
        "public ASN",
        _set("platform:gcp.vpn.gcpAsn", 15169),
        "platform:gcp.vpn.gcpAsn: expected a private ASN (64512-65534 or 4200000000-4294967294), got 15169",
    ),
    (
        "overlapping tunnel inside CIDRs",
        _set(
            "platform:gcp.vpn.insideCidrs", ["169.254.21.0/30", "169.254.21.4/30", "169.254.21.0/30", "169.254.22.4/30"]
        ),
        "platform:gcp.vpn.insideCidrs: expected four distinct /30 ranges, got 169.254.21.0/30 twice",
    ),
    (
        "inside CIDR not a /30",
        _set(
            "platform:gcp.vpn.insideCidrs", ["169.254.21.0/29", "169.254.21.8/30", "169.254.22.0/30", "169.254.22.4/30"]
        ),
        "platform:gcp.vpn.insideCidrs: expected /30 ranges inside 169.254.0.0/16, got 169.254.21.0/29",
    ),
    (
        "inside CIDR outside link-local",
        _set("platform:gcp.vpn.insideCidrs", ["10.0.0.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30"]),
        "platform:gcp.vpn.insideCidrs: expected /30 ranges inside 169.254.0.0/16, got 10.0.0.0/30",
    ),
    (
        "inside CIDR AWS reserves",
        _set(
            "platform:gcp.vpn.insideCidrs", ["169.254.1.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30"]
        ),
        "platform:gcp.vpn.insideCidrs: AWS reserves 169.254.1.0/30 for its own use",
    ),
    (
        "three tunnels",
        _set("platform:gcp.vpn.insideCidrs", ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30"]),
        "platform:gcp.vpn.insideCidrs: List should have at least 4 items",
    ),
    (
        "GPU pool in another region's zone",
        _set("platform:gcp.gke.nodePools.gpu.nodeLocations", ["asia-northeast1-a"]),
        "platform:gcp.gke.nodePools.gpu.nodeLocations[0]: expected a zone of gcp:region asia-northeast3, got 'asia-northeast1-a'",
    ),
    (
        "GPU pool without a GPU",
        _set("platform:gcp.gke.nodePools.gpu.acceleratorCount", 0),
        "platform:gcp.gke.nodePools.gpu.acceleratorCount: Input should be greater than or equal to 1",
    ),
    (
        "node pool min above max",
        _set("platform:gcp.gke.nodePools.general.minNodesPerZone", 9),
        "platform:gcp.gke.nodePools.general: expected minNodesPerZone <= maxNodesPerZone, got 9 > 4",
    ),
    (
        "GKE control plane open to the internet",
        _set("platform:gcp.gke.masterAuthorizedNetworks", [{"cidrBlock": "0.0.0.0/0", "displayName": "anyone"}]),
        "platform:gcp.gke.masterAuthorizedNetworks[0].cidrBlock: CIS GKE 5.6.3: authorized networks must not include "
        "the internet",
    ),
    (
        "public range on a private-only GKE endpoint",
        _set("platform:gcp.gke.masterAuthorizedNetworks", [{"cidrBlock": "121.134.0.0/16", "displayName": "office"}]),
        "platform:gcp.gke.masterAuthorizedNetworks[0].cidrBlock: expected private ranges while publicEndpoint is false (the endpoint has only a private IP), "
        "got 121.134.0.0/16",
    ),
    (
        "public GKE endpoint with no authorized networks",
        _set("platform:gcp.gke.publicEndpoint", True),
        "platform:gcp.gke.publicEndpoint: CIS GKE 5.6.3: a public endpoint needs masterAuthorizedNetworks",
    ),
    (
        "unknown release channel",
        _set("platform:gcp.gke.releaseChannel", "EXTENDED"),
        "platform:gcp.gke.releaseChannel: Input should be 'RAPID', 'REGULAR' or 'STABLE'",
    ),
    (
        "Cloud SQL tier with too much memory per vCPU",
        _set("platform:gcp.cloudSql.tier", "db-custom-1-16384"),
        "platform:gcp.cloudSql.tier: expected memory in 256 MiB steps, 0.9-6.5 GiB per vCPU, got 'db-custom-1-16384'",
    ),
    (
        "Cloud SQL tier with an odd vCPU count",
        _set("platform:gcp.cloudSql.tier", "db-custom-3-12288"),
        "platform:gcp.cloudSql.tier: expected 1 or an even number of vCPUs up to 96, got 'db-custom-3-12288'",
    ),
    (
        "Cloud SQL tier that is not a custom tier",
        _set("platform:gcp.cloudSql.tier", "db-n1-standard-4"),
        "platform:gcp.cloudSql.tier: String should match pattern",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"), [(m, e) for _, m, e in BAD_CONFIGS], ids=[case for case, _, _ in BAD_CONFIGS]
)
def test_bad_config_is_rejected_before_any_resource(stack_config, mutation: Mutation, expected: str):
    config = stack_config("prod")
    mutation(config)
    assert_rejected_before_any_resource("prod", config, expected)


def test_every_cross_field_problem_is_reported_at_once(stack_config):
    config = stack_config("prod")
    config["platform:aws"]["network"]["natGateways"] = "single"
    config["platform:protect"] = False
    config["platform:gcp"]["network"]["subnetCidr"] = "10.30.0.0/20"
    with pytest.raises(ConfigError) as caught:
        parse("prod", config)
    keys = [problem.split(":", 2)[1] for problem in caught.value.problems]
    assert keys == ["aws.network.natGateways", "protect", "gcp.network.subnetCidr"]


def test_error_message_names_file_key_expectation_and_value(stack_config):
    config = stack_config("staging")
    config["platform:aws"]["eks"]["nodeGroups"] = {"highCpu": {"minSize": 4, "desiredSize": 2, "maxSize": 3}}
    with pytest.raises(ConfigError) as caught:
        parse("staging", config)
    assert caught.value.problems == [
        "platform:aws.eks.nodeGroups.highCpu: expected minSize <= desiredSize <= maxSize, "
        "got minSize=4, desiredSize=2, maxSize=3"
    ]
    assert str(caught.value).splitlines()[1].strip().startswith("Pulumi.staging.yaml: platform:aws.eks")


# -- JSON schema for editors -------------------------------------------------------


def test_committed_schema_is_current():
    committed = json.loads((PROJECT_ROOT / "stacks" / "config" / "stack.schema.json").read_text())
    assert committed == json.loads(json.dumps(stack_file_schema()))


def test_schema_command_writes_the_schema(tmp_path):
    target = tmp_path / "schema.json"
    subprocess.run([sys.executable, "-m", "stacks.config", "--schema", str(target)], cwd=PROJECT_ROOT, check=True)
    assert json.loads(target.read_text())["properties"]["config"]["properties"]["platform:aws"]["type"] == "object"


def _check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    """Validate with check-jsonschema, an independent validator, not our own code."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    schema = PROJECT_ROOT / "stacks" / "config" / "stack.schema.json"
    return subprocess.run([str(checker), "--schemafile", str(schema), *map(str, files)], capture_output=True, text=True)


def test_schema_accepts_the_stack_files():
    result = _check_jsonschema(*(PROJECT_ROOT / f"Pulumi.{s}.yaml" for s in ("dev", "staging", "prod")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_unknown_key_and_wrong_type_but_allows_provider_keys(tmp_path):
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["cloudflare:apiToken"] = {"secure": "v1:abc"}  # another namespace: fine
    good = tmp_path / "Pulumi.good.yaml"
    good.write_text(yaml.safe_dump(document))
    assert _check_jsonschema(good).returncode == 0

    document["config"]["platform:aws"]["network"]["natGateway"] = "single"
    typo = tmp_path / "Pulumi.typo.yaml"
    typo.write_text(yaml.safe_dump(document))
    result = _check_jsonschema(typo)
    assert result.returncode == 1 and "natGateway" in result.stdout

    del document["config"]["platform:aws"]["network"]["natGateway"]
    document["config"]["platform:bogus"] = 1
    unknown = tmp_path / "Pulumi.unknown.yaml"
    unknown.write_text(yaml.safe_dump(document))
    assert _check_jsonschema(unknown).returncode == 1

    del document["config"]["platform:bogus"]
    document["config"]["aws:profile"] = "prod-admin"  # the explicit provider would ignore it
    ignored = tmp_path / "Pulumi.ignored.yaml"
    ignored.write_text(yaml.safe_dump(document))
    assert _check_jsonschema(ignored).returncode == 1
