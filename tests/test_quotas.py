"""Quotas the first `pulumi up` needs, counted from each stack's inventory (tools/quotas.py)."""

import copy
import io
import json

import pytest
from rich.console import Console

from tools.inventory import build_inventory
from tools.plan import run_plan
from tools.quotas import QuotaError, ec2_quota_bucket, gcp_vcpus, quotas_needed, quotas_report

STANDARD = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A) vCPUs"
EIPS = "EC2-VPC Elastic IPs (L-0263D0A3)"
NATS = "NAT gateways per Availability Zone (L-FE5A380F)"


@pytest.fixture(scope="module")
def inventories(synthed):
    return {stack: build_inventory(synthed(stack)) for stack in ("dev", "prod")}


def _needs(inventory):
    return {(n.quota, n.scope): n for n in quotas_needed(inventory)}


def test_prod_needs_six_elastic_ips_above_the_default_five(inventories):
    eips = _needs(inventories["prod"])[(EIPS, "ap-northeast-2")]
    assert (eips.needed, eips.default, eips.above_default) == (6, 5, True)
    # One NAT and one ingress address per AZ.
    assert sorted(eips.resources) == [
        f"heal7-prod-network-{role}-ap-northeast-2{zone}" for role in ("ingress", "nat") for zone in "abc"
    ]
    assert f"{EIPS} in ap-northeast-2" in quotas_report(inventories["prod"])["aboveDefault"]


def test_nat_gateways_are_counted_per_az(inventories):
    prod, dev = _needs(inventories["prod"]), _needs(inventories["dev"])
    assert {scope: n.needed for (quota, scope), n in prod.items() if quota == NATS} == {
        "ap-northeast-2a": 1,
        "ap-northeast-2b": 1,
        "ap-northeast-2c": 1,
    }
    # dev: one shared NAT gateway, so 3 EIPs (1 NAT + 2 ingress), within the default.
    assert {scope for (quota, scope) in dev if quota == NATS} == {"ap-northeast-2a"}
    assert (dev[(EIPS, "ap-northeast-2")].needed, dev[(EIPS, "ap-northeast-2")].above_default) == (3, False)


def test_gpus_by_type_region_and_globally(inventories):
    prod, dev = _needs(inventories["prod"]), _needs(inventories["dev"])
    # 1 T4 per node x maxNodesPerZone x 2 zones (b, c): prod 1 x 3 x 2, dev 1 x 1 x 2.
    assert prod[("NVIDIA_T4_GPUS", "asia-northeast3")].needed == 6
    assert dev[("NVIDIA_T4_GPUS", "asia-northeast3")].needed == 2
    for needs, total in ((prod, 6), (dev, 2)):
        gpus = needs[("GPUS_ALL_REGIONS", "global")]
        assert (gpus.needed, gpus.default, gpus.above_default) == (total, 0, True)


def test_boot_disks_count_against_the_regional_ssd_quota(inventories):
    ssd = _needs(inventories["prod"])[("SSD_TOTAL_GB", "asia-northeast3")]
    # pd-balanced 100 GB per node: general 4 x 3 zones, GPU 3 x 2 zones, and the default
    # pool GKE creates first (1 x 3 zones, GKE's default 100 GB disk).
    assert ssd.needed == (12 + 6 + 3) * 100
    assert sorted(ssd.resources) == [
        "heal7-prod-gke-cluster",
        "heal7-prod-gke-general-nodes",
        "heal7-prod-gke-gpu-nodes",
    ]


def test_quotas_without_one_default_are_listed_to_check(inventories):
    report = quotas_report(inventories["prod"])
    # Set per account or project: no default to compare with, so the operator must look.
    assert "SSD_TOTAL_GB in asia-northeast3: 2100" in report["toCheck"]
    assert f"{STANDARD} in ap-northeast-2: 256" in report["toCheck"]
    assert "NVIDIA_T4_GPUS in asia-northeast3: 6" in report["toCheck"]
    # Known defaults are compared, not listed.
    assert not any(line.startswith(EIPS) for line in report["toCheck"])


def test_cpus_at_the_maximum_size(inventories):
    prod = _needs(inventories["prod"])
    # EKS: m6i.2xlarge (8 vCPU) x maxSize 12 + c6i.4xlarge (16 vCPU) x maxSize 10, one standard bucket.
    assert prod[(STANDARD, "ap-northeast-2")].needed == 8 * 12 + 16 * 10
    assert prod[(STANDARD, "ap-northeast-2")].default is None
    # GKE: n2-standard-8 x 4 per zone x 3 zones on N2_CPUS; the n1 GPU pool (8 x 3 x 2) and the
    # default pool GKE creates then removes (e2-medium, 2 vCPU x 1 x 3 zones) on CPUS.
    assert prod[("N2_CPUS", "asia-northeast3")].needed == 8 * 4 * 3
    assert prod[("CPUS", "asia-northeast3")].needed == 8 * 3 * 2 + 2 * 3
    assert prod[("CPUS_ALL_REGIONS", "global")].needed == 96 + 54
    assert prod[("STATIC_ADDRESSES", "asia-northeast3")].needed == 1


def test_counts_follow_the_inventory(inventories):
    inventory = copy.deepcopy(inventories["prod"])
    group = next(r for r in inventory["resources"] if r["name"] == "heal7-prod-eks-general-nodes")
    group["inputs"]["scalingConfig"]["maxSize"] = 20
    group["inputs"]["instanceTypes"] = ["g5.2xlarge"]
    with pytest.raises(QuotaError, match=r"no vCPU count for EC2 instance type 'g5\.2xlarge'"):
        quotas_needed(inventory)
    group["inputs"]["instanceTypes"] = ["m6i.4xlarge"]
    assert _needs(inventory)[(STANDARD, "ap-northeast-2")].needed == 16 * 20 + 16 * 10


@pytest.mark.parametrize(
    ("instance_type", "bucket"),
    [("m6i.large", "Standard"), ("c6i.4xlarge", "Standard"), ("g5.xlarge", "G and VT"), ("p4d.24xlarge", "P")],
)
def test_ec2_quota_buckets(instance_type, bucket):
    assert f"Running On-Demand {bucket} " in ec2_quota_bucket(instance_type)


def test_unknown_gcp_shapes_fail_loudly():
    assert gcp_vcpus("n2-standard-8") == 8 and gcp_vcpus("e2-medium") == 2
    with pytest.raises(QuotaError, match=r"cannot tell the vCPUs of GCP machine type 'custom-4-16384'"):
        gcp_vcpus("custom-4-16384")


def test_plan_writes_quotas_json(tmp_path, synthed):
    console = Console(record=True, width=200, file=io.StringIO())
    run_plan("prod", tmp_path, console=console, result=synthed("prod"))
    report = json.loads((tmp_path / "prod" / "quotas.json").read_text())
    eips = next(q for q in report["quotas"] if q["quota"] == EIPS)
    assert (eips["needed"], eips["default"], eips["aboveDefault"], eips["scope"]) == (6, 5, True, "ap-northeast-2")
    text = console.export_text()
    assert f"raise before the first pulumi up: {EIPS} in ap-northeast-2" in text
