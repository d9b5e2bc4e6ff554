"""The workloads of `platform:workloads` on one cluster: an AppDeployment per workload placed
there, with the cluster's image registry, node pools and data endpoints.

Runs inside the cluster's `_once_cluster_exists` build (stacks/cluster_services.py): the
objects need the mesh's injector and the CRDs of External Secrets, Istio and VPA.
"""

from dataclasses import dataclass, field

import pulumi

from components.gcp.gke_node_pool import GPU_TAINT
from components.kubernetes._app_specs import Autoscaling, PodSettings, ResourceSpec, Toleration
from components.kubernetes._rollout_specs import Analysis, Delivery
from components.kubernetes.app_deployment import AppDeployment, AppDeploymentArgs
from stacks.aws_platform import SAJU_ENGINE_TAINT
from stacks.config.models import PlatformConfig
from stacks.config.workload_models import WorkloadConfig

# Kubernetes spells taint effects in CamelCase; the cloud SDKs in upper snake case.
_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


def _toleration(key: str, value: str, effect: str) -> Toleration:
    return Toleration(key=key, value=value, effect=_EFFECTS[effect])


# Each node pool's selector (the `node-class` label the node groups carry, aws_platform.py
# and gcp_platform.py) and the taints its pods must tolerate (the same constants that taint
# the groups, so the two cannot drift apart).
POOL_PLACEMENT: dict[str, tuple[dict[str, str], tuple[Toleration, ...]]] = {
    "general": ({"node-class": "general"}, ()),
    "highCpu": (
        {"node-class": "high-cpu"},
        (_toleration(str(SAJU_ENGINE_TAINT.key), str(SAJU_ENGINE_TAINT.value), str(SAJU_ENGINE_TAINT.effect)),),
    ),
    "gpu": ({"node-class": "gpu"}, (_toleration(str(GPU_TAINT.key), str(GPU_TAINT.value), str(GPU_TAINT.effect)),)),
}


@dataclass
class ClusterWorkloadContext:
    """What one cluster gives its workloads."""

    cluster: str
    """Required: `eks` or `gke`."""
    images: dict[str, pulumi.Input[str]]
    """Required: workload name -> its image reference in this cluster's registry."""
    namespaces: dict[str, pulumi.Input[str]]
    """Required: workload namespace -> its name once it exists."""
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    """Workload name -> environment variable -> key in the cloud secret store. Default none."""
    secret_store: pulumi.Input[str] | None = None
    """The ClusterSecretStore the workloads' ExternalSecrets read. Default None (no secrets)."""
    ca_certificates: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """CA file name -> PEM of the database servers this cluster's URLs name; mounted in the pods of
    workloads that use the database. Default none."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What the workloads wait for (istiod, the add-ons with the VPA CRDs). Default none."""
    rollouts: list[pulumi.Resource] = field(default_factory=list)
    """What a workload delivered by a Rollout also waits for: the Argo Rollouts chart (its CRDs and
    controller). Default none (then no workload may use canary or blueGreen)."""


def pod_settings(workload: WorkloadConfig) -> PodSettings:
    selector, tolerations = POOL_PLACEMENT[workload.node_pool]
    resources = workload.resources
    return PodSettings(
        port=workload.port,
        resources=ResourceSpec(
            cpu_request=resources.requests.cpu,
            memory_request=resources.requests.memory,
            cpu_limit=resources.limits.cpu,
            memory_limit=resources.limits.memory,
            gpus=workload.gpus,
        ),
        liveness_path=workload.probes.liveness_path,
        readiness_path=workload.probes.readiness_path,
        node_selector=selector,
        tolerations=tolerations,
        env=dict(workload.env),
        metrics_port=workload.metrics.port if workload.metrics else None,
        metrics_path=workload.metrics.path if workload.metrics else "/metrics",
    )


def autoscaling(workload: WorkloadConfig) -> Autoscaling:
    scaling = workload.autoscaling
    return Autoscaling(
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        cpu_utilization=scaling.cpu_utilization,
        memory_utilization=scaling.memory_utilization,
        requests_per_second=scaling.requests_per_second,
        scale_down_stabilization_seconds=scaling.scale_down_stabilization_seconds,
    )


def delivery(workload: WorkloadConfig) -> Delivery | None:
    """The workload's progressive delivery, None for a rolling update."""
    config = workload.delivery
    if config.strategy == "rolling":
        return None
    return Delivery(
        strategy=config.strategy,
        steps=tuple(config.canary.steps),
        header_route=config.canary.header_route,
        analysis=Analysis(
            max_error_ratio=config.analysis.max_error_ratio,
            max_p95_latency_ms=config.analysis.max_p95_latency_ms,
            window_minutes=config.analysis.window_minutes,
        ),
    )


def build_workloads(
    config: PlatformConfig, cluster_name: str, context: ClusterWorkloadContext, opts: pulumi.ResourceOptions
) -> dict[str, AppDeployment]:
    """One AppDeployment per workload placed on this cluster, keyed by workload name."""
    deployments = {}
    for name, workload in config.workloads.items():
        if context.cluster not in workload.placement:
            continue
        progressive = delivery(workload)
        if progressive is not None and not context.rollouts:
            raise ValueError(f"workload {name}: {progressive.strategy} delivery needs the Argo Rollouts controller")
        deployments[name] = AppDeployment(
            f"{cluster_name}-{name}",
            AppDeploymentArgs(
                name=name,
                namespace=context.namespaces[workload.namespace],
                image=context.images[name],
                pod=pod_settings(workload),
                autoscaling=autoscaling(workload),
                secrets=context.secrets.get(name, {}),
                secret_store=context.secret_store if context.secrets.get(name) else None,
                ca_certificates=dict(context.ca_certificates) if "database" in workload.uses else {},
                delivery=progressive,
                after=[*context.after, *context.rollouts] if progressive is not None else context.after,
            ),
            opts=opts,
        )
    return deployments
