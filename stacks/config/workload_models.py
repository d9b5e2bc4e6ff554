"""The `platform:workloads` section: each workload declared once, placed on one or both clusters.

A workload's key is its Kubernetes name (the HEAL7 design's `heal7-web-main`): the
Deployment, Service, HPA, PDB and ServiceAccount all take it, and the ingress routes name it
as `<namespace>/<key>`. Values the HEAL7 design gives (heal7-cluster-config.yaml,
heal7-hpa.yaml) are its defaults; the stack files say where they choose otherwise.
"""

import itertools
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from stacks.config.ingress_models import ObjectName, Port
from stacks.config.types import Fraction, KeyedValueError, Section, StrictInt, Switch, unique

Cluster = Literal["eks", "gke"]
# The node groups a workload may ask for: `general` on both clusters, the tainted high-CPU
# group on EKS (the HEAL7 design's saju-engine) and the GPU pool on GKE (its ai-models).
NodePool = Literal["general", "highCpu", "gpu"]
POOL_CLUSTERS: dict[str, tuple[str, ...]] = {"general": ("eks", "gke"), "highCpu": ("eks",), "gpu": ("gke",)}
# A Kubernetes quantity as the documents write them: millicores or cores, Mi or Gi.
CpuQuantity = Annotated[str, StringConstraints(pattern=r"^([1-9][0-9]{0,5}m|[1-9][0-9]{0,2}(\.[0-9]{1,3})?)$")]
MemoryQuantity = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,5}(Mi|Gi)$")]
# An image repository name inside the cluster's registry (ECR repository, Artifact Registry
# image path): lowercase path segments, no registry host, no tag.
ImageRepository = Annotated[
    str, StringConstraints(max_length=200, pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
]
# A Docker tag (128 characters of [A-Za-z0-9_.-], not starting with . or -).
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
HttpPath = Annotated[str, StringConstraints(max_length=200, pattern=r"^/[A-Za-z0-9._~/-]*$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]


def _no_variable_reference(value: str) -> str:
    if "$(" in value:
        raise ValueError(f"expected a literal value without a $(...) reference, got {value!r}")
    return value


# A literal value: Kubernetes expands `$(NAME)` in env values, so a value may not contain it
# (a plain variable would otherwise read another, possibly secret, one).
EnvValue = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_no_variable_reference)]
Percent = Annotated[StrictInt, Field(ge=1, le=100)]
# What a workload connects to; each becomes a secret environment variable (DATABASE_URL,
# REDIS_URL) synced by External Secrets from the cloud secret store.
DataStore = Literal["database", "redis"]


class ImageConfig(Section):
    """The image by repository and tag; the tag is resolved to its digest at deploy time."""

    repository: ImageRepository = Field(description="Repository in the cluster's registry (ECR, Artifact Registry).")
    tag: ImageTag = Field(description="The tag to resolve to a digest; never `latest`.")

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, tag: str) -> str:
        # A moving tag says nothing about what runs (the email-platform ops guide's rule,
        # checkov CKV_K8S_14); the digest pins it, the tag must still name a release.
        if tag == "latest":
            raise ValueError("expected a release tag (it is resolved to a digest), got 'latest'")
        return tag


class ResourceAmounts(Section):
    cpu: CpuQuantity = Field(description="CPU, e.g. 250m or 2.")
    memory: MemoryQuantity = Field(description="Memory, e.g. 256Mi or 2Gi.")


class ResourcesConfig(Section):
    """Requests (what the scheduler reserves) and limits (the ceiling)."""

    requests: ResourceAmounts
    limits: ResourceAmounts


class AutoscalingConfig(Section):
    """The HorizontalPodAutoscaler: the HEAL7 design's three metrics."""

    min_replicas: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(description="HPA floor, in pods.")
    max_replicas: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(description="HPA ceiling, in pods.")
    # heal7-hpa.yaml: CPU 70 %, memory 80 %, requests_per_second 100 per pod.
    cpu_utilization: Percent = 70
    memory_utilization: Percent = 80
    requests_per_second: Annotated[StrictInt, Field(ge=1, le=100000)] = 100
    # Five minutes of lower load before removing pods, so a dip between bursts does not
    # shed capacity the next burst needs (Kubernetes' default, written out).
    scale_down_stabilization_seconds: Annotated[StrictInt, Field(ge=0, le=3600)] = 300

    @model_validator(mode="after")
    def _min_at_most_max(self) -> "AutoscalingConfig":
        if self.min_replicas > self.max_replicas:
            raise KeyedValueError(
                "minReplicas", f"expected at most maxReplicas ({self.max_replicas}), got {self.min_replicas}"
            )
        return self


class ProbesConfig(Section):
    # The HEAL7 design's probes: /health for liveness, /ready for readiness.
    liveness_path: HttpPath = "/health"
    readiness_path: HttpPath = "/ready"


class CanaryConfig(Section):
    """The HEAL7 design's deploy-strategy.sh: a header route, then rising weights, watched."""

    steps: Annotated[list[Percent], Field(min_length=1)] = Field(
        default_factory=lambda: [10, 50, 100], description="Traffic weights in percent, rising to 100."
    )
    header_route: Switch = Field(default=True, description="Send requests with `canary: true` to the new version.")

    @field_validator("steps")
    @classmethod
    def _rising_to_100(cls, steps: list[int]) -> list[int]:
        if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise ValueError(f"expected weights rising strictly to 100, got {steps}")
        return steps


class AnalysisConfig(Section):
    """What a new version must show before it is promoted (the HEAL7 design's targets)."""

    max_error_ratio: Annotated[Fraction, Field(gt=0, lt=1)] = Field(
        default=0.01, description="Highest 5xx share of requests, 0-1 (the HEAL7 design's 99.9 % availability)."
    )
    max_p95_latency_ms: Annotated[StrictInt, Field(ge=1, le=60000)] = Field(
        default=500, description="p95 latency in milliseconds (the HEAL7 design's 500 ms)."
    )
    # deploy-strategy.sh watches the canary for ten minutes.
    window_minutes: Annotated[StrictInt, Field(ge=1, le=120)] = 10


class MetricsConfig(Section):
    """Where the app serves its own Prometheus metrics (merged by its Istio proxy)."""

    port: Port = Field(description="The port of the app's metrics endpoint.")
    path: HttpPath = Field(default="/metrics", description="The path of the app's metrics endpoint.")


class DeliveryConfig(Section):
    strategy: Literal["rolling", "canary", "blueGreen"] = "rolling"
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)


class WorkloadConfig(Section):
    namespace: ObjectName = Field(description="A workload namespace of platform:kubernetes.namespaces.")
    placement: Annotated[list[Cluster], unique("clusters"), Field(min_length=1)] = Field(
        description="The clusters it runs on: eks (AWS primary), gke (GCP backup), or both."
    )
    image: ImageConfig
    port: Port = Field(description="The container's HTTP port, also the Service's.")
    node_pool: NodePool = Field(default="general", description="general, highCpu (EKS) or gpu (GKE).")
    gpus: Annotated[StrictInt, Field(ge=0, le=8)] = Field(default=0, description="nvidia.com/gpu per pod.")
    resources: ResourcesConfig
    autoscaling: AutoscalingConfig
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    share: Annotated[Fraction, Field(ge=0, le=1)] = Field(
        description="Share of the platform's request target (requests per second) this workload serves, 0-1."
    )
    uses: Annotated[list[DataStore], unique("data stores")] = Field(
        default=[], description="Data stores it connects to: DATABASE_URL and/or REDIS_URL from the secret store."
    )
    env: dict[EnvName, EnvValue] = Field(
        default={}, description="Plain environment variables (never secrets: those come through `uses`)."
    )
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    metrics: MetricsConfig | None = Field(
        default=None,
        description="The app's own Prometheus metrics, if it serves any (default none: the mesh's request "
        "metrics only).",
    )
    team: ObjectName = Field(
        default="backend",
        description="The team whose Alertmanager route gets this workload's alerts (a key of "
        "platform:monitoring.alerting.teamEmails).",
    )

    @model_validator(mode="after")
    def _pool_fits_placement(self) -> "WorkloadConfig":
        for index, cluster in enumerate(self.placement):
            if cluster not in POOL_CLUSTERS[self.node_pool]:
                raise KeyedValueError(
                    f"placement[{index}]",
                    f"expected a cluster with a {self.node_pool} node pool "
                    f"({', '.join(POOL_CLUSTERS[self.node_pool])}), got {cluster!r}",
                )
        if (self.node_pool == "gpu") != (self.gpus > 0):
            raise KeyedValueError(
                "gpus",
                f"expected GPUs exactly when nodePool is gpu (nodePool {self.node_pool}), got {self.gpus}",
            )
        return self


def workload_problems(workloads: dict[str, WorkloadConfig], namespaces: set[str]) -> list[str]:
    """Rules across workloads and the namespaces they live in."""
    key = "platform:workloads"
    problems = []
    for name, workload in workloads.items():
        if workload.namespace not in namespaces:
            problems.append(
                f"{key}.{name}.namespace: expected one of platform:kubernetes.namespaces "
                f"({', '.join(sorted(namespaces))}), got {workload.namespace!r}"
            )
    return problems
