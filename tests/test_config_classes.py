"""Bad values by class: each class of mistake is refused at the key the user wrote.

The classes: values that used to crash the loader, rules only a component enforced, errors
that named the wrong key, and values that were accepted but wrong (bare addresses, sizes
without a ceiling, unchecked type names, repeated set entries, empty or overlapping
windows, regions that do not exist). Each case must fail with a ConfigError line that
starts with the given key and expectation, and register nothing.
"""

from typing import Any

import pytest

import stacks.config.data_models
import stacks.config.rules
from stacks.config.loader import ConfigError
from tests.conftest import assert_rejected_before_any_resource
from tests.test_config import Mutation, _set, parse

AWS, GCP, CF = "platform:aws", "platform:gcp", "platform:cloudflare"
OFFICE = {"cidrBlock": "10.200.0.0/24", "displayName": "office"}

CLASSES: dict[str, list[tuple[str, Mutation, str]]] = {
    "crashed before": [
        (
            "tier as a list",
            _set("platform:environment", ["prod"]),
            "platform:environment: expected one of dev, staging",
        ),
        (
            "infinite steering weight",
            _set(f"{CF}.steering.defaultWeights", {"aws-primary": float("inf"), "gcp-secondary": 0.3}),
            f"{CF}.steering.defaultWeights.aws-primary: expected a finite number, got inf",
        ),
        (
            "NaN steering weight",
            _set(f"{CF}.steering.defaultWeights", {"aws-primary": float("nan"), "gcp-secondary": 0.3}),
            f"{CF}.steering.defaultWeights.aws-primary: expected a finite number, got nan",
        ),
    ],
    "a component's rule": [
        (
            "duplicated ECR repository",
            _set(f"{AWS}.ecr.repositories", ["web-main", "web-main"]),
            f"{AWS}.ecr.repositories: expected distinct repositories, got 'web-main' more than once",
        ),
        (
            "replication user in PostgreSQL's reserved prefix",
            _set(f"{GCP}.cloudSql.replicationUsername", "pg_replicator"),
            f"{GCP}.cloudSql.replicationUsername: expected a role name that does not start with pg_ or rds",
        ),
        (
            "public GKE control-plane range",
            _set(f"{GCP}.network.masterCidr", "8.8.8.0/28"),
            f"{GCP}.network.masterCidr: GKE private clusters need a private control-plane range, got 8.8.8.0/28",
        ),
    ],
    "the key the user wrote": [
        (
            "VPC too small for the default private subnets",
            _set(f"{AWS}.network.vpcCidr", "10.30.0.0/20"),
            f"{AWS}.network.vpcCidr: expected a range the subnet layout fits (/19 is larger than the VPC "
            "10.30.0.0/20; privateSubnetPrefix is its default 19), got 10.30.0.0/20",
        ),
        (
            "private subnets the file makes too large for its VPC: both keys named",
            _set(f"{AWS}.network.privateSubnetPrefix", 17),
            f"{AWS}.network.vpcCidr: 10.30.0.0/16 holds fewer than 7 /17 blocks (a private subnet per zone slot a-f "
            "plus one block of public subnets); use a larger VPC or a longer privateSubnetPrefix",
        ),
        (
            "shared buffers not in whole pages",
            _set(f"{AWS}.rds.tuning", {"sharedBuffers": "12kB"}),
            f"{AWS}.rds.tuning.sharedBuffers: expected a multiple of 8kB (one PostgreSQL page), got 12kB",
        ),
        (
            "public authorized network on a private endpoint",
            _set(f"{GCP}.gke.masterAuthorizedNetworks", [OFFICE, {"cidrBlock": "8.8.8.0/24", "displayName": "x"}]),
            f"{GCP}.gke.masterAuthorizedNetworks[1].cidrBlock: expected private ranges while publicEndpoint is false",
        ),
        (
            "backup window over the maintenance window",
            _set(f"{AWS}.rds.backupWindow", "03:30-04:30"),
            f"{AWS}.rds.backupWindow: expected a window that does not overlap maintenanceWindow (sun:04:00-sun:05:00",
        ),
    ],
    "bare addresses and integers as ranges": [
        (
            "bare address",
            _set(f"{GCP}.network.podsCidr", "10.132.0.0"),
            f"{GCP}.network.podsCidr: expected an IPv4 network as address/prefix such as 10.30.0.0/16, got '10.132.0.0'",
        ),
        (
            "integer",
            _set(f"{AWS}.network.vpcCidr", 169738240),
            f"{AWS}.network.vpcCidr: expected an IPv4 network as address/prefix such as 10.30.0.0/16, got 169738240",
        ),
        (
            "bare address in a list",
            _set(f"{AWS}.eks.publicAccessCidrs", ["121.134.0.0"]),
            f"{AWS}.eks.publicAccessCidrs[0]: expected an IPv4 network as address/prefix",
        ),
        (
            "EKS service range outside RFC 1918",
            _set(f"{AWS}.eks.serviceCidr", "100.64.0.0/16"),
            f"{AWS}.eks.serviceCidr: expected a /12 to /24 inside 10.0.0.0/8",
        ),
    ],
    "sizes, counts and days with a ceiling": [
        (
            "node group maximum",
            _set(f"{AWS}.eks.nodeGroups.general.maxSize", 1000000000000),
            f"{AWS}.eks.nodeGroups.general.maxSize: Input should be less than or equal to 450, got 1000000000000",
        ),
        (
            "Cloud SQL disk size",
            _set(f"{GCP}.cloudSql.diskSizeGb", 10**12),
            f"{GCP}.cloudSql.diskSizeGb: expected at most 65536 (64 TiB, the largest RDS gp3 volume or Persistent Disk)",
        ),
        (
            "node group maximum over EKS's quota of 450",
            _set(f"{AWS}.eks.nodeGroups.general.maxSize", 451),
            f"{AWS}.eks.nodeGroups.general.maxSize: Input should be less than or equal to 450, got 451",
        ),
        (
            "a boolean as a count",
            _set(f"{AWS}.redis.nodeCount", True),
            f"{AWS}.redis.nodeCount: Input should be a valid integer",
        ),
        (
            "a float as a count",
            _set(f"{GCP}.gke.nodePools.general.maxNodesPerZone", 4.5),
            f"{GCP}.gke.nodePools.general.maxNodesPerZone: Input should be a valid integer",
        ),
        (
            "backups kept for ever",
            _set(f"{AWS}.backups.expireAfterDays", 10**12),
            f"{AWS}.backups.expireAfterDays: expected at most 3653 (ten years)",
        ),
        (
            "rate limit of a trillion",
            _set(f"{CF}.rateLimits", {"api": {"requests": 10**12, "per": "second"}}),
            f"{CF}.rateLimits.api.requests: expected at most 1000000",
        ),
        (
            "ASN over 32 bits",
            _set(f"{GCP}.vpn.gcpAsn", 2**40),
            f"{GCP}.vpn.gcpAsn: expected at most 4294967295 (32-bit ASNs)",
        ),
        (
            "RDS autoscaling ceiling less than 10 % above the storage",
            _set(f"{AWS}.rds.maxAllocatedStorage", 1099),
            f"{AWS}.rds.maxAllocatedStorage: expected at least 10 % above allocatedStorage (1000), i.e. >= 1100 "
            "(RDS refuses less), got 1099",
        ),
        (
            "memory beyond PostgreSQL's integer settings",
            _set(f"{AWS}.rds.tuning", {"workMem": "4TB"}),
            f"{AWS}.rds.tuning.workMem: expected at most 2147483647kB",
        ),
    ],
    "type names of each cloud": [
        (
            "empty instance type",
            _set(f"{AWS}.eks.nodeGroups.highCpu.instanceTypes", [""]),
            f"{AWS}.eks.nodeGroups.highCpu.instanceTypes[0]: String should match pattern",
        ),
        (
            "instance type with a shell command",
            _set(f"{AWS}.eks.nodeGroups.highCpu.instanceTypes", ["c6i.4xlarge; rm -rf /"]),
            f"{AWS}.eks.nodeGroups.highCpu.instanceTypes[0]: String should match pattern",
        ),
        (
            "RDS class without a generation",
            _set(f"{AWS}.rds.instanceClass", "db.r.xlarge"),
            f"{AWS}.rds.instanceClass: String should match pattern",
        ),
        (
            "cache node type size",
            _set(f"{AWS}.redis.nodeType", "cache.r6g.0xlarge"),
            f"{AWS}.redis.nodeType: String should match pattern",
        ),
        (
            "machine type with spaces",
            _set(f"{GCP}.gke.nodePools.general.machineType", "n2 standard 8"),
            f"{GCP}.gke.nodePools.general.machineType: String should match pattern",
        ),
    ],
    "lists that are sets": [
        (
            "admin role twice",
            _set(f"{AWS}.eks.adminRoles", ["platform-admin", "platform-admin"]),
            f"{AWS}.eks.adminRoles: expected distinct roles, got 'platform-admin' more than once",
        ),
        (
            "authorized network twice",
            _set(f"{GCP}.gke.masterAuthorizedNetworks", [OFFICE, {**OFFICE, "displayName": "again"}]),
            f"{GCP}.gke.masterAuthorizedNetworks: expected distinct cidrBlock ranges, got '10.200.0.0/24' more than once",
        ),
        (
            "node location twice",
            _set(f"{GCP}.gke.nodePools.gpu.nodeLocations", ["asia-northeast3-b", "asia-northeast3-b"]),
            f"{GCP}.gke.nodePools.gpu.nodeLocations: expected distinct zones, got 'asia-northeast3-b' more than once",
        ),
        (
            "AZ twice",
            _set(f"{AWS}.availabilityZones", ["ap-northeast-2a", "ap-northeast-2c", "ap-northeast-2a"]),
            f"{AWS}.availabilityZones: expected distinct AZs, got 'ap-northeast-2a' more than once",
        ),
        (
            "instance type twice",
            _set(f"{AWS}.eks.nodeGroups.general.instanceTypes", ["m6i.2xlarge", "m6i.2xlarge"]),
            f"{AWS}.eks.nodeGroups.general.instanceTypes: expected distinct instance types",
        ),
    ],
    "windows": [
        (
            "empty backup window",
            _set(f"{AWS}.rds.backupWindow", "03:00-03:00"),
            f"{AWS}.rds.backupWindow: expected a window whose end differs from its start, got '03:00-03:00'",
        ),
        (
            "backup window under RDS's 30 minutes",
            _set(f"{AWS}.rds.backupWindow", "02:00-02:20"),
            f"{AWS}.rds.backupWindow: expected a window of at least 30 minutes (RDS's minimum), got '02:00-02:20'",
        ),
        (
            "empty maintenance window",
            _set(f"{AWS}.rds.maintenanceWindow", "sun:04:00-sun:04:00"),
            f"{AWS}.rds.maintenanceWindow: expected a window whose end differs from its start",
        ),
        (
            "snapshot window under ElastiCache's 60 minutes",
            _set(f"{AWS}.redis.snapshotWindow", "02:00-02:30"),
            f"{AWS}.redis.snapshotWindow: expected a window of at least 60 minutes (ElastiCache's minimum)",
        ),
    ],
    "regions and zones that exist": [
        ("AWS region", _set("aws:region", "ap-northeast-9"), "aws:region: expected an AWS region such as"),
        ("GCP region", _set("gcp:region", "asia-northeast9"), "gcp:region: expected an GCP region such as"),
        (
            "backup region",
            _set(f"{AWS}.rds.backupReplicaRegion", "ap-tokyo-1"),
            f"{AWS}.rds.backupReplicaRegion: expected an AWS region such as",
        ),
        (
            "AZ letter beyond the subnet slots",
            _set(f"{AWS}.availabilityZones", ["ap-northeast-2a", "ap-northeast-2z"]),
            f"{AWS}.availabilityZones[1]: expected a zone of a known AWS region (region + letter a-f)",
        ),
        (
            "GCP zone of an unknown region",
            _set(f"{GCP}.gke.nodePools.gpu.nodeLocations", ["asia-northeast9-b"]),
            f"{GCP}.gke.nodePools.gpu.nodeLocations[0]: expected a zone of a known GCP region",
        ),
    ],
}
CASES = [
    (f"{group}: {case}", mutation, expected) for group, cases in CLASSES.items() for case, mutation, expected in cases
]


@pytest.mark.parametrize(("mutation", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_class_of_bad_value_is_refused_at_its_key(stack_config, mutation: Mutation, expected: str):
    config = stack_config("prod")
    mutation(config)
    assert_rejected_before_any_resource("prod", config, expected)


def test_the_smallest_valid_autoscaling_ceiling_is_accepted(stack_config):
    config = stack_config("prod")
    config["platform:aws"]["rds"]["maxAllocatedStorage"] = 1100
    assert parse("prod", config).aws.rds.max_allocated_storage == 1100


def test_a_window_across_midnight_is_measured_across_midnight(stack_config):
    config = stack_config("prod")
    config["platform:aws"]["rds"]["backupWindow"] = "23:45-00:15"
    assert parse("prod", config).aws.rds.backup_window == "23:45-00:15"


def test_a_crashing_field_rule_becomes_a_config_error_at_its_key(monkeypatch, stack_config):
    def overflow(text: str) -> int:
        raise OverflowError("int too large to convert")

    monkeypatch.setattr(stacks.config.data_models, "parse_memory_kb", overflow)
    with pytest.raises(ConfigError) as caught:
        parse("prod", stack_config("prod"))
    assert caught.value.problems == [
        "platform:aws.rds.tuning.sharedBuffers: could not be checked (OverflowError: int too large to convert); "
        "expected a value the config rules accept"
    ]
    assert str(caught.value).splitlines()[1].strip().startswith("Pulumi.prod.yaml: platform:aws.rds.tuning")


def test_a_crashing_cross_key_rule_becomes_a_config_error_naming_the_file(monkeypatch, stack_config):
    def broken(*args: Any, **kwargs: Any) -> list[str]:
        raise RuntimeError("rule bug")

    monkeypatch.setattr(stacks.config.rules, "front_door_problems", broken)
    with pytest.raises(ConfigError) as caught:
        parse("prod", stack_config("prod"))
    assert caught.value.problems == [
        "platform:*: could not be checked (RuntimeError: rule bug); expected a value the config rules accept"
    ]
    assert "Pulumi.prod.yaml: platform:*" in str(caught.value)


# Real type names the shape checks must keep accepting (a shape check that refuses a real
# type blocks a user from a valid choice): three-digit sizes, metal, flex, custom and TPU shapes.
VALID_TYPE_NAMES = [
    (f"{AWS}.eks.nodeGroups.general.instanceTypes", ["u-6tb1.112xlarge", "m7i-flex.large", "c7gn.16xlarge"]),
    (f"{AWS}.eks.nodeGroups.general.instanceTypes", ["mac2.metal", "g6e.xlarge", "u7i-12tb.224xlarge"]),
    (f"{AWS}.rds.instanceClass", "db.r7g.large"),
    (f"{AWS}.rds.instanceClass", "db.x2g.xlarge"),
    (f"{AWS}.redis.nodeType", "cache.m7g.large"),
    (f"{GCP}.gke.nodePools.general.machineType", "n2d-standard-8"),
    (f"{GCP}.gke.nodePools.general.machineType", "e2-custom-medium-4096"),
    (f"{GCP}.gke.nodePools.general.machineType", "n2-custom-8-32768-ext"),
    (f"{GCP}.gke.nodePools.general.machineType", "x4-megamem-1920-metal"),
    (f"{GCP}.gke.nodePools.general.machineType", "ct5lp-hightpu-4t"),
]


@pytest.mark.parametrize(("path", "value"), VALID_TYPE_NAMES, ids=[str(v) for _, v in VALID_TYPE_NAMES])
def test_real_type_names_pass_the_shape_checks(stack_config, path: str, value: Any):
    config = stack_config("prod")
    _set(path, value)(config)
    parse("prod", config)
