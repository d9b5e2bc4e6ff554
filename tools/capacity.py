"""The capacity plan: can each cluster serve the request target at its HPA and node-group maxima?

`capacity_report(config, source)` takes the stack's config (the request target, each
workload's share, HPA and requests, the node groups) and its synth result or inventory (the
Helm charts and EKS add-ons the program installs, which tools/chart_pods.py and
tools/system_pods.py turn into pods) and checks, per cluster:

- Every workload placed there serves its share of the target at its HPA maximum:
  `share x target <= maxReplicas x requestsPerSecond` (the HPA's per-pod rate). Each cluster
  is held to the whole target, not a split of it: a region loss fails all traffic over to the
  other cloud (the Cloudflare pools), so either cluster may have to serve all of it.
- The pods at those maxima fit the node pool they select at its maximum size. Each node
  offers its allocatable (tools/machine_types.py: capacity minus the kubelet's documented
  reservations) less the DaemonSets every node runs; each workload pod requests its app
  container plus the Istio sidecar; the add-ons' Deployments, at their own maxima, land on
  the general pool (the other pools are tainted). The workloads' pods spread over zones with
  `DoNotSchedule` (maxSkew 1), so the check packs the busiest zone: a ceiling share of
  every Deployment's pods, first fit by decreasing size, into the nodes that zone gets at
  the pool's maximum (EKS spreads a group's maxSize over its AZs, the smaller share counts;
  GKE's maxNodesPerZone). A node holds a pod while CPU, memory, GPUs and the pod count all fit.

A failure names the stack file's key to change and the numbers behind it.

Not counted: the extra pods of a rollout in progress (the Deployment's maxSurge 1, or a
canary's ReplicaSet beside the stable one), which a deploy at peak load needs on top.
"""

import math
from collections.abc import Mapping
from typing import Any

from stacks.config.loader import CONFIG_NAMESPACE, UNREAD_PROVIDER_NAMESPACES, parse_platform_config
from stacks.config.models import PlatformConfig
from stacks.config.workload_models import WorkloadConfig
from tools import manifests
from tools import synth as synth_module
from tools.capacity_report import FAILOVER_ASSUMPTION, CapacityReport, Placed, PoolCapacity, WorkloadCapacity
from tools.chart_pods import chart_pods, sidecar_requests
from tools.machine_types import eks_node, gke_node
from tools.quotas import GKE_DEFAULT_ZONES
from tools.synth import SynthResult
from tools.system_pods import (
    EKS_ADDON_PODS,
    GKE_GPU_NODE_PODS,
    GKE_SYSTEM_PODS,
    Requests,
    SystemPod,
    SystemPodsError,
    cpu_m,
    custom_resource_pods,
    memory_mib,
)

EKS_ADDON = "aws:eks/addon:Addon"
# The pool add-ons without tolerations land on (the other pools carry NoSchedule taints).
ADDON_POOL = "general"


def stack_config(stack: str) -> PlatformConfig:
    """The stack file's config as the program reads it (only the namespaces the loader takes)."""
    raw = synth_module.read_stack_config(stack)
    namespaces = (CONFIG_NAMESPACE, *UNREAD_PROVIDER_NAMESPACES)
    return parse_platform_config({k: v for k, v in raw.items() if k.split(":", 1)[0] in namespaces}, stack)


def _eks_addon_names(source: SynthResult | Mapping[str, Any]) -> list[str]:
    if isinstance(source, SynthResult):
        return [str(r.inputs.get("addonName")) for r in source.of_type(EKS_ADDON)]
    return [str(r["inputs"].get("addonName")) for r in source["resources"] if r["type"] == EKS_ADDON]


def _system_pods(cluster: str, charts: list[manifests.HelmChart], eks_addons: list[str]) -> list[SystemPod]:
    pods = [pod for chart in charts for pod in chart_pods(chart)]
    if cluster == "gke":
        return pods + GKE_SYSTEM_PODS + GKE_GPU_NODE_PODS
    for name in eks_addons:
        if name not in EKS_ADDON_PODS:
            raise SystemPodsError(f"tools/system_pods.py: no pod requests recorded for EKS add-on {name!r}")
        pods += EKS_ADDON_PODS[name]
    return pods


def _pools(config: PlatformConfig, cluster: str, daemonsets: list[SystemPod]) -> dict[str, PoolCapacity]:
    name = f"{config.resource_prefix}-{cluster}"
    pools: dict[str, PoolCapacity] = {}
    if cluster == "eks":
        zones = len(config.aws.availability_zones)
        groups = config.aws.eks.node_groups
        for pool, group in (("general", groups.general), ("highCpu", groups.high_cpu)):
            # The group may launch any of its types: count the smallest.
            node = min((eks_node(t) for t in group.instance_types), key=lambda n: (n.allocatable_cpu_m, n.memory_mib))
            spread = min(zones, group.max_size)  # a group smaller than its AZ count fills fewer zones
            key = f"platform:aws.eks.nodeGroups.{pool}.maxSize"
            pools[pool] = PoolCapacity(
                name, pool, key, node, group.max_size, spread, group.max_size // spread, list(daemonsets)
            )
        return pools
    node_pools = config.gcp.gke.node_pools
    for pool, spec in (("general", node_pools.general), ("gpu", node_pools.gpu)):
        node = gke_node(spec.machine_type, spec.accelerator_count)
        zones = len(spec.node_locations) or GKE_DEFAULT_ZONES
        on_node = [d for d in daemonsets if node.gpus or not d.gpu_nodes_only]
        key = f"platform:gcp.gke.nodePools.{pool}.maxNodesPerZone"
        pools[pool] = PoolCapacity(
            name, pool, key, node, spec.max_nodes_per_zone * zones, zones, spec.max_nodes_per_zone, on_node
        )
    return pools


def _workload_pod(workload: WorkloadConfig, sidecar: Requests) -> Requests:
    requests = workload.resources.requests
    return Requests(cpu_m(requests.cpu), memory_mib(requests.memory), workload.gpus) + sidecar


def _pack(pool: PoolCapacity) -> None:
    """First fit by decreasing size of the busiest zone's pods into as many nodes as it takes."""
    free, pods_room = pool.node_free, pool.node_free_pods
    items = sorted(
        ((p.name, p.pod) for p in pool.placed for _ in range(math.ceil(p.count / pool.zones))),
        key=lambda item: (item[1].gpus, item[1].cpu_m, item[1].memory_mib),
        reverse=True,
    )
    nodes: list[list[float]] = []  # room left per node: cpu, memory, gpus, pods
    for name, pod in items:
        need = (pod.cpu_m, pod.memory_mib, pod.gpus, 1)
        if any(n > room for n, room in zip(need, (free.cpu_m, free.memory_mib, free.gpus, pods_room), strict=True)):
            if name not in pool.oversized:
                pool.oversized.append(name)
            continue
        node = next((n for n in nodes if all(x <= room for x, room in zip(need, n, strict=True))), None)
        if node is None:
            node = [free.cpu_m, free.memory_mib, free.gpus, pods_room]
            nodes.append(node)
        for index, amount in enumerate(need):
            node[index] -= amount
    pool.zone_nodes_needed = len(nodes)


def _fmt_requests(requests: Requests) -> str:
    gpus = f", {requests.gpus} GPU" if requests.gpus else ""
    return f"{requests.cpu_m / 1000:.2f} CPU, {requests.memory_mib / 1024:.1f} GiB{gpus}"


def _pool_problem(stack: str, pool: PoolCapacity) -> str:
    pods = "; ".join(f"{p.name} {p.count} x ({p.pod.cpu_m:g}m CPU, {p.pod.memory_mib:g}Mi)" for p in pool.placed)
    where = (
        f"{pool.cluster} {pool.pool} ({pool.max_nodes} x {pool.node.machine_type} at maximum, "
        f"{pool.zone_nodes} in the busiest of {pool.zones} zones)"
    )
    free = pool.node_free
    room = f"each node has {free.cpu_m:g}m CPU, {free.memory_mib:.0f}Mi, {free.gpus} GPU, {pool.node_free_pods} pods"
    if pool.oversized:
        reason = f"a pod of {', '.join(pool.oversized)} is larger than a whole node ({room})"
    else:
        reason = (
            f"the busiest zone needs {pool.zone_nodes_needed} nodes for its share of the pods, has {pool.zone_nodes} "
            f"({room} after kubelet reservations and DaemonSets; requested at HPA max "
            f"{_fmt_requests(pool.requested_at_max)} of {_fmt_requests(pool.free_at_max)} free)"
        )
    return f"Pulumi.{stack}.yaml: {pool.key}: the pods at HPA max do not fit {where}: {reason}; pods: {pods}"


def _share_problem(stack: str, w: WorkloadCapacity) -> str:
    return (
        f"Pulumi.{stack}.yaml: platform:workloads.{w.workload}.autoscaling.maxReplicas: {w.workload} on {w.cluster} "
        f"must serve share {w.share:g} x {w.target_rps} rps = {w.required_rps:g} rps ({FAILOVER_ASSUMPTION}), "
        f"but {w.max_replicas} pods x {w.per_pod_rps} rps per pod serve {w.rps_at_max} rps; expected maxReplicas "
        f">= {w.pods_needed}"
    )


def capacity_report(config: PlatformConfig, source: SynthResult | Mapping[str, Any]) -> CapacityReport:
    """The capacity table and its problems for `config`, with the add-ons `source` installs."""
    target = config.capacity.target_requests_per_second
    clusters = manifests.collect(source)
    eks_addons = _eks_addon_names(source)
    workloads: list[WorkloadCapacity] = []
    pools: list[PoolCapacity] = []
    for cluster in ("eks", "gke"):
        name = f"{config.resource_prefix}-{cluster}"
        charts = clusters[name].charts if name in clusters else []
        objects = [o.manifest for o in clusters[name].objects] if name in clusters else []
        system = _system_pods(cluster, charts, eks_addons) + custom_resource_pods(objects)
        sidecar = sidecar_requests(charts)
        cluster_pools = _pools(config, cluster, [p for p in system if p.kind == "DaemonSet"])
        addons = [Placed(p.name, p.requests, p.replicas) for p in system if p.kind == "Deployment"]
        cluster_pools[ADDON_POOL].placed.extend(addons)
        for workload_name, workload in config.workloads.items():
            if cluster not in workload.placement:
                continue
            scaling = workload.autoscaling
            line = WorkloadCapacity(
                name,
                workload_name,
                workload.node_pool,
                workload.share,
                target,
                scaling.requests_per_second,
                scaling.min_replicas,
                scaling.max_replicas,
                _workload_pod(workload, sidecar),
            )
            workloads.append(line)
            cluster_pools[workload.node_pool].placed.append(Placed(workload_name, line.pod, scaling.max_replicas))
        for pool in cluster_pools.values():
            _pack(pool)
        pools += cluster_pools.values()
    problems = [_share_problem(config.stack, w) for w in workloads if not w.serves_share]
    problems += [_pool_problem(config.stack, p) for p in pools if not p.fits]
    return CapacityReport(config.stack, target, workloads, pools, problems)
