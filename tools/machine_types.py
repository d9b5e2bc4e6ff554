"""What one node of each instance or machine type the stacks use offers pods: capacity minus
the kubelet's documented reservations.

Capacity (vCPUs, memory, GPUs) comes from the tables below; a type missing from them is an
error (the plan fails and names it), never a guess. Allocatable is capacity minus:

- EKS (managed node groups on the AL2023 EKS AMI, no custom AMI, as components/aws/eks/
  node_group.py builds them): nodeadm's kube-reserved, `6 % of the first core, 1 % of the
  second, 0.5 % of cores 3-4, 0.25 % of the rest` of CPU and `11 MiB x max pods + 255 MiB` of
  memory, where max pods is the ENI formula `ENIs x (IPv4 addresses per ENI - 1) + 2`
  (EKS_RESERVATION_SOURCE), plus the kubelet's hard eviction threshold of 100 MiB. The pods a
  node admits are that ENI figure capped by the managed node group at 110 below 30 vCPUs and
  250 above (EKS_MAX_PODS_SOURCE); the VPC CNI runs without prefix delegation
  (components/aws/eks/addons.py), so every pod takes a VPC address within the ENI figure.
- GKE (Standard node pools): GKE's documented reservations (GKE_RESERVATION_SOURCE), the same
  CPU ladder, and memory `25 % of the first 4 GiB, 20 % of the next 4, 10 % of the next 8,
  6 % of the next 112, 2 % above 128 GiB` (255 MiB below 1 GiB), plus the 100 MiB eviction
  threshold; 110 pods per node (GKE's default maximum, which the clusters keep).

Not modelled: the few percent of memory the guest kernel keeps below the nominal size (a
node's reported capacity is a little under the table's figure), which the add-on and
workload requests here, CPU-bound at a quarter of a node's memory or less, never approach.
"""

from dataclasses import dataclass

EC2_TYPES_SOURCE = "https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html and co.html (vCPUs, memory)"
EC2_ENI_SOURCE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html#AvailableIpPerENI; the same figures "
    "as awslabs/amazon-eks-ami nodeadm/internal/kubelet/instance-info.jsonl (commit 81fec2e)"
)
EKS_RESERVATION_SOURCE = (
    "awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go: getCPUMillicoresToReserve, "
    "getMemoryMebibytesToReserve (11 * maxPods + 255), evictionHard memory.available 100Mi"
)
EKS_MAX_PODS_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/choosing-instance-type.html#max-pods-precedence"
GCE_TYPES_SOURCE = (
    "https://cloud.google.com/compute/docs/general-purpose-machines (vCPUs, memory; the Compute API's "
    "machineTypes memoryMb, in MiB)"
)
GKE_RESERVATION_SOURCE = (
    "https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations"
)

# EC2 types: vCPUs, memory in GiB, ENIs and IPv4 addresses per ENI. The m6i, c6i and r6i
# sizes large..8xlarge the tiers use and their neighbours (tools/quotas.py lists the same
# vCPUs for its quota counts). Add a type here before a stack uses it.
EC2_TYPES: dict[str, tuple[int, int, int, int]] = {
    "m6i.large": (2, 8, 3, 10),
    "m6i.xlarge": (4, 16, 4, 15),
    "m6i.2xlarge": (8, 32, 4, 15),
    "m6i.4xlarge": (16, 64, 8, 30),
    "m6i.8xlarge": (32, 128, 8, 30),
    "c6i.large": (2, 4, 3, 10),
    "c6i.xlarge": (4, 8, 4, 15),
    "c6i.2xlarge": (8, 16, 4, 15),
    "c6i.4xlarge": (16, 32, 8, 30),
    "c6i.8xlarge": (32, 64, 8, 30),
    "r6i.large": (2, 16, 3, 10),
    "r6i.xlarge": (4, 32, 4, 15),
    "r6i.2xlarge": (8, 64, 4, 15),
    "r6i.4xlarge": (16, 128, 8, 30),
}
# GCE predefined types: vCPUs and memory in MiB (GCE's "GB" is GiB: n1-standard-1's 3.75 GB
# is memoryMb 3840). GPUs come from the pool's accelerator count, not the machine type.
GCE_TYPES: dict[str, tuple[int, int]] = {
    "e2-standard-2": (2, 8192),
    "e2-standard-4": (4, 16384),
    "e2-standard-8": (8, 32768),
    "e2-standard-16": (16, 65536),
    "n2-standard-4": (4, 16384),
    "n2-standard-8": (8, 32768),
    "n2-standard-16": (16, 65536),
    "n1-standard-4": (4, 15360),
    "n1-standard-8": (8, 30720),
    "n1-standard-16": (16, 61440),
}
EVICTION_HARD_MIB = 100
# Kubernetes' default --max-pods, which GKE Standard keeps unless a pool sets fewer.
GKE_MAX_PODS = 110
# The managed node group's cap on max pods (EKS_MAX_PODS_SOURCE): below 30 vCPUs, 110.
EKS_MAX_PODS_CAP_SMALL = 110
EKS_MAX_PODS_CAP_LARGE = 250
EKS_MAX_PODS_CAP_VCPUS = 30


class MachineTypeError(ValueError):
    """A type with no capacity row: add it to a table in tools/machine_types.py."""


@dataclass(frozen=True)
class NodeShape:
    """One node: its capacity and what the kubelet keeps back."""

    machine_type: str
    vcpus: int
    memory_mib: float
    gpus: int
    max_pods: int
    reserved_cpu_m: float
    """kube-reserved CPU, in millicores."""
    reserved_memory_mib: float
    """kube-reserved memory plus the hard eviction threshold, in MiB."""

    @property
    def allocatable_cpu_m(self) -> float:
        return self.vcpus * 1000 - self.reserved_cpu_m

    @property
    def allocatable_memory_mib(self) -> float:
        return self.memory_mib - self.reserved_memory_mib


def reserved_cpu_m(vcpus: int) -> float:
    """The CPU ladder EKS's nodeadm and GKE both document, in millicores."""
    total = vcpus * 1000
    ladder = ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, None, 0.0025))
    return sum(max(0, min(total, end if end is not None else total) - start) * rate for start, end, rate in ladder)


def gke_reserved_memory_mib(memory_mib: float) -> float:
    """GKE's memory reservation (GKE_RESERVATION_SOURCE), without the eviction threshold."""
    if memory_mib < 1024:
        return 255
    gib = 1024
    ladder = ((0, 4 * gib, 0.25), (4 * gib, 8 * gib, 0.20), (8 * gib, 16 * gib, 0.10), (16 * gib, 128 * gib, 0.06))
    reserved = sum(max(0, min(memory_mib, end) - start) * rate for start, end, rate in ladder)
    return reserved + max(0, memory_mib - 128 * gib) * 0.02


def eks_node(instance_type: str) -> NodeShape:
    if instance_type not in EC2_TYPES:
        raise MachineTypeError(
            f"tools/machine_types.py: no capacity for EC2 instance type {instance_type!r}; add it to EC2_TYPES"
        )
    vcpus, memory_gib, enis, ips_per_eni = EC2_TYPES[instance_type]
    eni_max_pods = enis * (ips_per_eni - 1) + 2
    cap = EKS_MAX_PODS_CAP_SMALL if vcpus < EKS_MAX_PODS_CAP_VCPUS else EKS_MAX_PODS_CAP_LARGE
    return NodeShape(
        machine_type=instance_type,
        vcpus=vcpus,
        memory_mib=memory_gib * 1024,
        gpus=0,
        max_pods=min(eni_max_pods, cap),
        reserved_cpu_m=reserved_cpu_m(vcpus),
        # nodeadm reserves memory for the ENI figure, before the node group's cap applies.
        reserved_memory_mib=11 * eni_max_pods + 255 + EVICTION_HARD_MIB,
    )


def gke_node(machine_type: str, gpus: int = 0) -> NodeShape:
    if machine_type not in GCE_TYPES:
        raise MachineTypeError(
            f"tools/machine_types.py: no capacity for GCE machine type {machine_type!r}; add it to GCE_TYPES"
        )
    vcpus, memory_mib = GCE_TYPES[machine_type]
    return NodeShape(
        machine_type=machine_type,
        vcpus=vcpus,
        memory_mib=memory_mib,
        gpus=gpus,
        max_pods=GKE_MAX_PODS,
        reserved_cpu_m=reserved_cpu_m(vcpus),
        reserved_memory_mib=gke_reserved_memory_mib(memory_mib) + EVICTION_HARD_MIB,
    )
