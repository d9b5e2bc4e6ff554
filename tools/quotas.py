"""Quotas the first `pulumi up` of a stack needs, derived from its plan inventory.

A new AWS account or GCP project starts with quotas below what prod takes (6 Elastic IPs
against a default of 5 per region; GPUs at 0 in a new project), and `pulumi up` then fails
halfway. `quotas_needed(inventory)` counts, from the inventory's registrations (never from
the stack files, so it follows the code): Elastic IPs per region, NAT gateways per AZ, VPCs
per region, EKS clusters and node groups, On-Demand vCPUs per EC2 quota bucket at the node
groups' maximum size, GCP CPUs and GPUs per region at the pools' maximum, the global GPU
and CPU quotas, and static external IP addresses per region. Each line carries the
provider's default where it is one well-known number (None where it is set per account or
project), and `above_default` flags what must be raised before the first `pulumi up`.

vCPU counts come from the small tables below; a type missing from them is an error (the
plan fails and names it), never a guess.
"""

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

AWS_VPC_QUOTAS = "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
AWS_EKS_QUOTAS = "https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html"
AWS_EC2_VCPU_QUOTAS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
GCP_GPU_QUOTAS = "https://cloud.google.com/compute/resource-usage#gpu_quota"
GCP_CPU_QUOTAS = "https://cloud.google.com/compute/resource-usage#cpu_quota"
GCP_IP_QUOTAS = "https://cloud.google.com/compute/resource-usage#external_ip_addresses"
GCP_DISK_QUOTAS = "https://cloud.google.com/compute/resource-usage#disk_quota"

# vCPUs of the EC2 instance types the tiers use (stacks/config/tiers.py) and their
# neighbours, from the EC2 instance-type specifications (m6i, c6i, r6i: 2 vCPU per `large`,
# doubling per size step). Add a type here before a stack uses it.
EC2_VCPUS = {
    "m6i.large": 2,
    "m6i.xlarge": 4,
    "m6i.2xlarge": 8,
    "m6i.4xlarge": 16,
    "m6i.8xlarge": 32,
    "c6i.large": 2,
    "c6i.xlarge": 4,
    "c6i.2xlarge": 8,
    "c6i.4xlarge": 16,
    "c6i.8xlarge": 32,
    "r6i.large": 2,
    "r6i.xlarge": 4,
    "r6i.2xlarge": 8,
    "r6i.4xlarge": 16,
}
# On-Demand vCPU quotas by instance family (AWS_EC2_VCPU_QUOTAS): the standard families
# share one quota; the accelerated and memory-optimized-X families have their own. Longer
# prefixes first (inf before i, dl before d, hpc before h, trn before t, vt before the rest).
EC2_QUOTA_BUCKETS = (
    ("inf", "Running On-Demand Inf instances (L-1945791B)"),
    ("trn", "Running On-Demand Trn instances (L-2C3B7624)"),
    ("dl", "Running On-Demand DL instances (L-6E869C2A)"),
    ("hpc", "Running On-Demand HPC instances (L-F7808C92)"),
    ("vt", "Running On-Demand G and VT instances (L-DB2E81BA)"),
    ("g", "Running On-Demand G and VT instances (L-DB2E81BA)"),
    ("p", "Running On-Demand P instances (L-417A185B)"),
    ("f", "Running On-Demand F instances (L-74FC7D96)"),
    ("x", "Running On-Demand X instances (L-7295265B)"),
    ("a", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("c", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("d", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("h", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("i", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("m", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("r", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("t", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
    ("z", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (L-1216C47A)"),
)
# GCP predefined machine types name their vCPUs (`n2-standard-8`); the shared-core E2
# types count 2 vCPUs against quota. The regional CPU quota by series (GCP_CPU_QUOTAS):
# N1 and E2 count against CPUS, the newer series against their own.
GCP_SHARED_CORE_VCPUS = {"e2-micro": 2, "e2-small": 2, "e2-medium": 2}
GCP_CPU_QUOTA_BY_SERIES = {"e2": "CPUS", "n1": "CPUS", "n2": "N2_CPUS", "n2d": "N2D_CPUS", "c2": "C2_CPUS"}
# GKE accelerator type -> Compute Engine's regional GPU quota metric (GCP_GPU_QUOTAS).
GPU_QUOTA_BY_ACCELERATOR = {
    "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
    "nvidia-l4": "NVIDIA_L4_GPUS",
    "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
    "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
    "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
}
# GKE replicates a regional cluster's node pool over three zones unless node locations say
# otherwise (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters).
GKE_DEFAULT_ZONES = 3
# A node pool-less cluster config gets e2-medium nodes: the default pool GKE creates (and
# the program removes right away) holds CPUS quota while it exists.
GKE_DEFAULT_MACHINE_TYPE = "e2-medium"


class QuotaError(ValueError):
    """The inventory uses a type whose quota cost is unknown: add it to a table in tools/quotas.py."""


@dataclass(frozen=True)
class QuotaNeed:
    cloud: str
    quota: str
    scope: str
    """The region, AZ or `global` the quota applies to."""
    needed: int
    default: int | None
    """The provider's default for a new account/project, None where it is set per account."""
    source: str
    resources: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def above_default(self) -> bool:
        return self.default is not None and self.needed > self.default

    @property
    def to_check(self) -> bool:
        """No single default exists (set per account or project): compare with the console."""
        return self.default is None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "aboveDefault": self.above_default, "toCheck": self.to_check}


def ec2_vcpus(instance_type: str) -> int:
    if instance_type not in EC2_VCPUS:
        raise QuotaError(f"tools/quotas.py: no vCPU count for EC2 instance type {instance_type!r}; add it to EC2_VCPUS")
    return EC2_VCPUS[instance_type]


def ec2_quota_bucket(instance_type: str) -> str:
    family = instance_type.split(".", 1)[0].lower()
    for prefix, bucket in EC2_QUOTA_BUCKETS:
        if family.startswith(prefix):
            return bucket
    raise QuotaError(f"tools/quotas.py: no On-Demand vCPU quota for EC2 instance family {family!r}")


def gcp_vcpus(machine_type: str) -> int:
    if machine_type in GCP_SHARED_CORE_VCPUS:
        return GCP_SHARED_CORE_VCPUS[machine_type]
    match = re.fullmatch(r"[a-z][a-z0-9]*-(standard|highmem|highcpu)-(\d+)", machine_type)
    if not match:
        raise QuotaError(f"tools/quotas.py: cannot tell the vCPUs of GCP machine type {machine_type!r}")
    return int(match.group(2))


def gcp_cpu_quota(machine_type: str) -> str:
    series = machine_type.split("-", 1)[0]
    if series not in GCP_CPU_QUOTA_BY_SERIES:
        raise QuotaError(f"tools/quotas.py: no regional CPU quota for GCP machine series {series!r}")
    return GCP_CPU_QUOTA_BY_SERIES[series]


def gpu_quota(accelerator_type: str) -> str:
    if accelerator_type not in GPU_QUOTA_BY_ACCELERATOR:
        raise QuotaError(f"tools/quotas.py: no GPU quota metric for accelerator {accelerator_type!r}")
    return GPU_QUOTA_BY_ACCELERATOR[accelerator_type]


def _gcp_region(location: str) -> str:
    """`asia-northeast3-b` -> `asia-northeast3`; a region stays as it is."""
    return location[:-2] if re.fullmatch(r".+-[a-z]\d+-[a-z]", location) else location


class _Tally:
    """Counts per (cloud, quota, scope), with the resources that make them up."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.resources: dict[tuple[str, str, str], list[str]] = defaultdict(list)

    def add(self, cloud: str, quota: str, scope: str, amount: int, resource: str) -> None:
        key = (cloud, quota, scope)
        self.counts[key] += amount
        if resource not in self.resources[key]:
            self.resources[key].append(resource)


def quotas_needed(inventory: dict[str, Any]) -> list[QuotaNeed]:
    """Every quota the inventory's resources draw on, with the amount at full scale."""
    resources = inventory["resources"]
    by_urn = {r["urn"]: r for r in resources}
    by_id = {r["id"]: r for r in resources if r.get("id")}

    def region_of(resource: dict[str, Any]) -> str:
        inputs = resource["inputs"]
        provider = by_urn.get(resource.get("provider") or "", {}).get("inputs", {})
        return str(inputs.get("region") or provider.get("region") or "unknown-region")

    tally = _Tally()
    for r in resources:
        kind, inputs, name = r["type"], r["inputs"], r["name"]
        if kind == "aws:ec2/eip:Eip":
            tally.add("aws", "EC2-VPC Elastic IPs (L-0263D0A3)", region_of(r), 1, name)
        elif kind == "aws:ec2/natGateway:NatGateway":
            subnet = by_id.get(inputs.get("subnetId", ""))
            if subnet is None:
                raise QuotaError(f"tools/quotas.py: NAT gateway {name}: its subnet is not in the inventory")
            tally.add(
                "aws", "NAT gateways per Availability Zone (L-FE5A380F)", subnet["inputs"]["availabilityZone"], 1, name
            )
        elif kind == "aws:ec2/vpc:Vpc":
            tally.add("aws", "VPCs per Region (L-F678F1CE)", region_of(r), 1, name)
        elif kind == "aws:eks/cluster:Cluster":
            tally.add("aws", "EKS clusters (L-1194D53C)", region_of(r), 1, name)
        elif kind == "aws:eks/nodeGroup:NodeGroup":
            tally.add("aws", "EKS managed node groups per cluster (L-6D54EA21)", inputs["clusterName"], 1, name)
            if inputs.get("capacityType", "ON_DEMAND") == "ON_DEMAND":
                max_size = int(inputs["scalingConfig"]["maxSize"])
                types = inputs["instanceTypes"]
                for bucket in {ec2_quota_bucket(t) for t in types}:
                    # A group of several types can scale out on its largest one.
                    largest = max(ec2_vcpus(t) for t in types if ec2_quota_bucket(t) == bucket)
                    tally.add("aws", f"{bucket} vCPUs", region_of(r), max_size * largest, name)
        elif kind == "gcp:compute/address:Address" and inputs.get("addressType", "EXTERNAL") == "EXTERNAL":
            tally.add("gcp", "STATIC_ADDRESSES", region_of(r), 1, name)
        elif kind == "gcp:container/nodePool:NodePool":
            _node_pool(tally, r, by_id.get(inputs.get("cluster", "")))
        elif kind == "gcp:container/cluster:Cluster" and inputs.get("initialNodeCount"):
            location = inputs["location"]
            zones = len(inputs.get("nodeLocations") or []) or (
                GKE_DEFAULT_ZONES if location == _gcp_region(location) else 1
            )
            # GKE creates the default pool before the program's pools and removes it once the
            # cluster is up, so it is counted on top: an overstatement, on the safe side.
            machine = (inputs.get("nodeConfig") or {}).get("machineType") or GKE_DEFAULT_MACHINE_TYPE
            nodes = int(inputs["initialNodeCount"]) * zones
            tally.add("gcp", gcp_cpu_quota(machine), _gcp_region(location), nodes * gcp_vcpus(machine), name)
            tally.add("gcp", "CPUS_ALL_REGIONS", "global", nodes * gcp_vcpus(machine), name)
            _boot_disks(tally, inputs.get("nodeConfig") or {}, _gcp_region(location), nodes, name)

    return [_need(key, tally.counts[key], tally.resources[key]) for key in sorted(tally.counts)]


# Boot disks count against a regional disk quota by type: pd-balanced and pd-ssd against
# SSD_TOTAL_GB, pd-standard against DISKS_TOTAL_GB (GCP_DISK_QUOTAS). GKE's default boot
# disk is 100 GB pd-balanced.
GKE_DEFAULT_DISK_GB = 100
GKE_DEFAULT_DISK_TYPE = "pd-balanced"
DISK_QUOTAS = {"pd-balanced": "SSD_TOTAL_GB", "pd-ssd": "SSD_TOTAL_GB", "pd-standard": "DISKS_TOTAL_GB"}


def _boot_disks(tally: _Tally, node_config: dict[str, Any], region: str, nodes: int, name: str) -> None:
    disk_type = node_config.get("diskType") or GKE_DEFAULT_DISK_TYPE
    if disk_type not in DISK_QUOTAS:
        raise QuotaError(f"tools/quotas.py: {name}: no disk quota known for boot disk type {disk_type!r}")
    size_gb = int(node_config.get("diskSizeGb") or GKE_DEFAULT_DISK_GB)
    tally.add("gcp", DISK_QUOTAS[disk_type], region, nodes * size_gb, name)


def _node_pool(tally: _Tally, pool: dict[str, Any], cluster: dict[str, Any] | None) -> None:
    """A pool at its maximum: maxNodeCount per zone, in its own or its cluster's zones."""
    inputs, name = pool["inputs"], pool["name"]
    location = inputs["location"]
    zones = len(inputs.get("nodeLocations") or (cluster or {}).get("inputs", {}).get("nodeLocations") or []) or (
        GKE_DEFAULT_ZONES if location == _gcp_region(location) else 1
    )
    autoscaling = inputs.get("autoscaling") or {}
    per_zone = int(autoscaling.get("maxNodeCount") or inputs.get("nodeCount") or inputs.get("initialNodeCount") or 1)
    nodes = per_zone * zones
    machine = inputs["nodeConfig"]["machineType"]
    region = _gcp_region(location)
    tally.add("gcp", gcp_cpu_quota(machine), region, nodes * gcp_vcpus(machine), name)
    tally.add("gcp", "CPUS_ALL_REGIONS", "global", nodes * gcp_vcpus(machine), name)
    _boot_disks(tally, inputs["nodeConfig"], region, nodes, name)
    for accelerator in inputs["nodeConfig"].get("guestAccelerators") or []:
        gpus = nodes * int(accelerator["count"])
        tally.add("gcp", gpu_quota(accelerator["type"]), region, gpus, name)
        tally.add("gcp", "GPUS_ALL_REGIONS", "global", gpus, name)


# (default for a new account/project or None, where it is documented, note)
_DEFAULTS: dict[str, tuple[int | None, str, str]] = {
    "EC2-VPC Elastic IPs (L-0263D0A3)": (5, AWS_VPC_QUOTAS, ""),
    "NAT gateways per Availability Zone (L-FE5A380F)": (5, AWS_VPC_QUOTAS, ""),
    "VPCs per Region (L-F678F1CE)": (5, AWS_VPC_QUOTAS, ""),
    "EKS clusters (L-1194D53C)": (100, AWS_EKS_QUOTAS, ""),
    "EKS managed node groups per cluster (L-6D54EA21)": (30, AWS_EKS_QUOTAS, ""),
    "GPUS_ALL_REGIONS": (0, GCP_GPU_QUOTAS, "0 in a new project: request it before any regional GPU quota"),
    "STATIC_ADDRESSES": (None, GCP_IP_QUOTAS, "set per project"),
    "CPUS_ALL_REGIONS": (None, GCP_CPU_QUOTAS, "set per project"),
}


def _need(key: tuple[str, str, str], needed: int, resources: list[str]) -> QuotaNeed:
    cloud, quota, scope = key
    if quota in _DEFAULTS:
        default, source, note = _DEFAULTS[quota]
    elif quota.endswith("vCPUs"):
        default, source, note = None, AWS_EC2_VCPU_QUOTAS, "set per account; at every node group's maxSize"
    elif quota.endswith("_GPUS"):
        default, source, note = None, GCP_GPU_QUOTAS, "per region, often 0 in a new project; at maxNodeCount"
    elif quota in DISK_QUOTAS.values():
        default, source, note = None, GCP_DISK_QUOTAS, "set per project and region; boot disks at maxNodeCount"
    else:
        default, source, note = None, GCP_CPU_QUOTAS, "set per project; at every pool's maxNodeCount"
    return QuotaNeed(cloud, quota, scope, needed, default, source, resources, note)


def quotas_report(inventory: dict[str, Any]) -> dict[str, Any]:
    """The JSON written to build/<stack>/quotas.json."""
    needs = quotas_needed(inventory)
    return {
        "stack": inventory["stack"],
        "quotas": [need.to_json() for need in needs],
        "aboveDefault": [f"{n.quota} in {n.scope}" for n in needs if n.above_default],
        "toCheck": [f"{n.quota} in {n.scope}: {n.needed}" for n in needs if n.to_check],
    }
