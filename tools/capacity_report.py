"""The capacity plan's report: its rows, their JSON (build/<stack>/capacity.json) and its tables.

tools/capacity.py fills it; tools/plan.py prints `capacity_tables(report)` and writes
`report.to_json()`.
"""

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from tools.machine_types import NodeShape
from tools.system_pods import Requests, SystemPod

FAILOVER_ASSUMPTION = "each cluster serves the whole target: a region loss fails all traffic over to the other cloud"


@dataclass(frozen=True)
class WorkloadCapacity:
    """One workload on one cluster."""

    cluster: str
    workload: str
    pool: str
    share: float
    target_rps: int
    per_pod_rps: int
    """The HPA's requests_per_second target: what one pod serves."""
    min_replicas: int
    max_replicas: int
    pod: Requests
    """One pod's requests: the app container and the Istio sidecar."""

    @property
    def required_rps(self) -> float:
        return round(self.share * self.target_rps, 6)

    @property
    def rps_at_max(self) -> int:
        return self.max_replicas * self.per_pod_rps

    @property
    def pods_needed(self) -> int:
        return math.ceil(self.required_rps / self.per_pod_rps)

    @property
    def serves_share(self) -> bool:
        return self.required_rps <= self.rps_at_max


@dataclass(frozen=True)
class Placed:
    """A Deployment's pods in a pool at their maximum."""

    name: str
    pod: Requests
    count: int


@dataclass
class PoolCapacity:
    """One node group (EKS) or node pool (GKE) at its maximum size."""

    cluster: str
    pool: str
    key: str
    """The stack-file key of its maximum size."""
    node: NodeShape
    max_nodes: int
    zones: int
    zone_nodes: int
    """Nodes the busiest zone has at the maximum size."""
    daemonsets: list[SystemPod]
    placed: list[Placed] = field(default_factory=list)
    zone_nodes_needed: int = 0
    oversized: list[str] = field(default_factory=list)
    """Pods larger than one node's room."""

    @property
    def daemonset_requests(self) -> Requests:
        return sum((d.requests for d in self.daemonsets), Requests())

    @property
    def node_free(self) -> Requests:
        """One node's allocatable less its DaemonSets."""
        used = self.daemonset_requests
        return Requests(
            self.node.allocatable_cpu_m - used.cpu_m,
            self.node.allocatable_memory_mib - used.memory_mib,
            self.node.gpus - used.gpus,
        )

    @property
    def node_free_pods(self) -> int:
        return self.node.max_pods - len(self.daemonsets)

    @property
    def allocatable_at_max(self) -> Requests:
        node = self.node
        return Requests(node.allocatable_cpu_m, node.allocatable_memory_mib, node.gpus).times(self.max_nodes)

    @property
    def free_at_max(self) -> Requests:
        return self.node_free.times(self.max_nodes)

    @property
    def requested_at_max(self) -> Requests:
        return sum((p.pod.times(p.count) for p in self.placed), Requests())

    @property
    def pods_at_max(self) -> int:
        return sum(p.count for p in self.placed)

    @property
    def fits(self) -> bool:
        return not self.oversized and self.zone_nodes_needed <= self.zone_nodes


@dataclass
class CapacityReport:
    stack: str
    target_rps: int
    workloads: list[WorkloadCapacity]
    pools: list[PoolCapacity]
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "targetRequestsPerSecond": self.target_rps,
            "assumption": FAILOVER_ASSUMPTION,
            "workloads": [
                {
                    "cluster": w.cluster,
                    "workload": w.workload,
                    "pool": w.pool,
                    "share": w.share,
                    "requiredRequestsPerSecond": w.required_rps,
                    "perPodRequestsPerSecond": w.per_pod_rps,
                    "minReplicas": w.min_replicas,
                    "maxReplicas": w.max_replicas,
                    "requestsPerSecondAtMax": w.rps_at_max,
                    "podRequestsWithSidecar": asdict(w.pod),
                    "servesShare": w.serves_share,
                }
                for w in self.workloads
            ],
            "pools": [
                {
                    "cluster": p.cluster,
                    "pool": p.pool,
                    "machineType": p.node.machine_type,
                    "maxNodes": p.max_nodes,
                    "zones": p.zones,
                    "busiestZoneNodes": p.zone_nodes,
                    "busiestZoneNodesNeeded": p.zone_nodes_needed,
                    "nodeAllocatable": {
                        "cpu_m": p.node.allocatable_cpu_m,
                        "memory_mib": p.node.allocatable_memory_mib,
                        "gpus": p.node.gpus,
                        "pods": p.node.max_pods,
                    },
                    "daemonSetsPerNode": {d.name: asdict(d.requests) for d in p.daemonsets},
                    "allocatableAtMax": asdict(p.allocatable_at_max),
                    "freeForPodsAtMax": asdict(p.free_at_max),
                    "requestedAtMax": asdict(p.requested_at_max),
                    "podsAtMax": {x.name: {"count": x.count, "pod": asdict(x.pod)} for x in p.placed},
                    "fits": p.fits,
                }
                for p in self.pools
            ],
            "problems": self.problems,
        }


def _cores(cpu_m: float) -> str:
    return f"{cpu_m / 1000:.2f}"


def _gib(memory_mib: float) -> str:
    return f"{memory_mib / 1024:.1f}"


def capacity_tables(report: CapacityReport) -> list[Table]:
    """Per cluster: its workloads at HPA max, then its node pools at maximum size."""
    tables = []
    for cluster in dict.fromkeys(p.cluster for p in report.pools):
        workloads = Table(
            title=f"{cluster}: workloads at HPA max against {report.target_rps} rps ({FAILOVER_ASSUMPTION})"
        )
        for column in ("workload", "pool", "share", "must serve rps", "per pod rps", "HPA min", "HPA max"):
            workloads.add_column(column, justify="left" if column in ("workload", "pool") else "right")
        for column in ("rps at max", "pod + sidecar (CPU, memory, GPU)", "serves share"):
            workloads.add_column(column, justify="right")
        for w in (w for w in report.workloads if w.cluster == cluster):
            workloads.add_row(
                w.workload,
                w.pool,
                f"{w.share:g}",
                f"{w.required_rps:g}",
                str(w.per_pod_rps),
                str(w.min_replicas),
                str(w.max_replicas),
                str(w.rps_at_max),
                f"{w.pod.cpu_m:g}m, {w.pod.memory_mib:g}Mi, {w.pod.gpus}",
                Text("yes" if w.serves_share else "NO", style="" if w.serves_share else "red"),
            )
        tables.append(workloads)
        pools = Table(title=f"{cluster}: node pools at maximum size (CPU in cores, memory in GiB)")
        for column in ("pool", "nodes at max"):
            pools.add_column(column)
        for column in (
            "allocatable per node (CPU, mem, GPU, pods)",
            "DaemonSets per node",
            "allocatable at max (CPU, mem, GPU)",
            "free for pods at max",
            "requested at HPA max",
            "busiest zone: nodes needed / has",
            "fits",
        ):
            pools.add_column(column, justify="right", overflow="fold")
        for p in (p for p in report.pools if p.cluster == cluster):
            node, daemonsets = p.node, p.daemonset_requests
            allocatable, free, requested = p.allocatable_at_max, p.free_at_max, p.requested_at_max
            pools.add_row(
                p.pool,
                f"{p.max_nodes} x {node.machine_type} ({p.zones} zones)",
                f"{_cores(node.allocatable_cpu_m)}, {_gib(node.allocatable_memory_mib)}, {node.gpus}, {node.max_pods}",
                f"{_cores(daemonsets.cpu_m)}, {_gib(daemonsets.memory_mib)} ({len(p.daemonsets)} pods)",
                f"{_cores(allocatable.cpu_m)}, {_gib(allocatable.memory_mib)}, {allocatable.gpus}",
                f"{_cores(free.cpu_m)}, {_gib(free.memory_mib)}, {free.gpus}",
                f"{_cores(requested.cpu_m)}, {_gib(requested.memory_mib)}, {requested.gpus} ({p.pods_at_max} pods)",
                f"{p.zone_nodes_needed} / {p.zone_nodes}",
                Text("yes" if p.fits else "NO", style="" if p.fits else "red"),
            )
        tables.append(pools)
    return tables
