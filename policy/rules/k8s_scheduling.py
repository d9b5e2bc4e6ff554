"""Where a workload's pods may run and how they are replaced: rollouts that never take serving
pods down (Deployments and Argo Rollouts), and placement on the dedicated node pools (the HEAL7
design runs saju-engine on high-CPU AWS instances and ai-models on GPU-enabled GCP instances,
each on a tainted pool of its own)."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, as_list, get, requirement
from .k8s_workloads import ROLLOUT, WORKLOADS, containers, kubernetes_control, pod_check, pod_spec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
ZERO = (0, 0.0, "0", "0%")
# Kubernetes' own taints (node conditions, cloud-provider start-up, control-plane roles) are not
# dedicated pools: tolerating them says nothing about where a pod belongs.
SYSTEM_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/", "node-role.kubernetes.io/")
# Effects that keep pods without the toleration off a node; PreferNoSchedule only discourages.
HARD_EFFECTS = ("NoSchedule", "NoExecute")
# GKE labels every GPU node with its accelerator type, whatever the pool's own labels are.
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"


# -- rollouts ------------------------------------------------------------------------


def _both_zero(strategy: Mapping[str, Any]) -> bool:
    return get(strategy, "maxSurge") in ZERO and get(strategy, "maxUnavailable") in ZERO


def _deployment_rollout(args: ResourceValidationArgs) -> Iterator[str]:
    strategy = get(args.props, "spec.strategy") or {}
    rolling = get(strategy, "rollingUpdate") or {}
    # Absent: RollingUpdate with maxUnavailable 25%, which drops capacity during a rollout.
    if get(strategy, "type") == "Recreate":
        yield "the Recreate strategy stops every pod before starting new ones (spec.strategy.type)"
    elif get(rolling, "maxUnavailable") not in ZERO:
        yield "a rollout may take serving pods down (spec.strategy.rollingUpdate.maxUnavailable is not 0)"
    elif _both_zero(rolling):
        yield "maxSurge and maxUnavailable are both 0, which the API server refuses (spec.strategy.rollingUpdate)"


def _argo_rollout(args: ResourceValidationArgs) -> Iterator[str]:
    canary, blue_green = get(args.props, "spec.strategy.canary"), get(args.props, "spec.strategy.blueGreen")
    if canary is None and blue_green is None:
        yield "names no canary or blueGreen strategy, which the controller refuses (spec.strategy)"
    if canary is not None:
        # argo-rollouts docs/features/canary/index.md: maxUnavailable "Defaults to 25%"; with
        # Istio traffic routing it no longer sizes the ReplicaSets but still paces the old
        # ReplicaSet's scale-down, and it sets how many pods a restart evicts at once.
        if get(canary, "maxUnavailable") not in ZERO:
            yield "a rollout may take serving pods down (spec.strategy.canary.maxUnavailable is not 0, default 25%)"
        elif _both_zero(canary):
            yield "maxSurge and maxUnavailable are both 0, which the controller refuses (spec.strategy.canary)"
    # A blueGreen update keeps the active pods until the new ReplicaSet is fully available
    # (docs/features/bluegreen.md), but a restart evicts up to maxUnavailable pods at once
    # (docs/features/restart.md), and unset the controller takes 25% (BlueGreenStrategy in
    # pkg/apis/rollouts/v1alpha1/types.go, utils/defaults GetMaxUnavailableOrDefault), though
    # bluegreen.md says 0. Only an explicit 0 restarts one pod at a time.
    if blue_green is not None and get(blue_green, "maxUnavailable") not in ZERO:
        yield "a restart may take serving pods down (spec.strategy.blueGreen.maxUnavailable is not 0, default 25%)"


def _zero_unavailable(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    yield from (_argo_rollout(args) if args.resource_type == ROLLOUT else _deployment_rollout(args))


# -- dedicated pools -------------------------------------------------------------------


def _positive(quantity: Any) -> bool:
    """A GPU count (an integer, or its string) above zero."""
    try:
        return float(quantity) > 0
    except (TypeError, ValueError):
        return False


def _requests_gpus(args: ResourceValidationArgs, gpu: str) -> bool:
    # Extended resources are requested through limits (requests default to them), or both.
    return any(
        _positive((get(container, f"resources.{section}") or {}).get(gpu))
        for container in containers(args)
        for section in ("limits", "requests")
    )


def _tolerated(toleration: Mapping[str, Any], key: str, effect: str) -> bool:
    """Whether `toleration` tolerates a taint with `key` and `effect` (any value)."""
    if get(toleration, "effect") not in (None, "", effect):
        return False
    # A toleration without a key and operator Exists tolerates every taint.
    return get(toleration, "key") == key or (not get(toleration, "key") and get(toleration, "operator") == "Exists")


def _dedicated(toleration: Mapping[str, Any], gpu: str) -> str | None:
    """The dedicated pool's taint a toleration lets the pod onto (other than the GPU taint), or None."""
    key, effect = get(toleration, "key") or "", get(toleration, "effect")
    if effect not in (None, "", *HARD_EFFECTS) or key == gpu or key.startswith(SYSTEM_TAINT_PREFIXES):
        return None
    if not key:
        return "every taint" if get(toleration, "operator") == "Exists" else None
    value = get(toleration, "value")
    return f"{key}{'=' + value if value else ''}:{effect or 'every effect'}"


@pod_check
def _dedicated_pool_placement(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    gpu, spec = config["gpuResource"], pod_spec(args)
    tolerations = [t for t in as_list(get(spec, "tolerations")) if isinstance(t, Mapping)]
    selector = get(spec, "nodeSelector") or {}
    tolerates_gpus = any(_tolerated(t, gpu, "NoSchedule") for t in tolerations)
    if _requests_gpus(args, gpu):
        # GKE's ExtendedResourceToleration admission adds this toleration by itself; the manifest
        # still states it, so the pod means the same on a cluster without that plugin (EKS).
        if not tolerates_gpus:
            yield f"requests {gpu} without tolerating the GPU nodes' taint {gpu}:NoSchedule (spec.tolerations)"
        gpu_labels: Mapping[str, str] = config["gpuNodeLabels"]
        if not (GKE_ACCELERATOR_LABEL in selector or any(selector.get(k) == v for k, v in gpu_labels.items())):
            wanted = ", ".join([*(f"{k}={v}" for k, v in gpu_labels.items()), GKE_ACCELERATOR_LABEL])
            yield f"requests {gpu} but its nodeSelector selects no GPU nodes (spec.nodeSelector: one of {wanted})"
    elif tolerates_gpus:
        yield f"tolerates the GPU taint {gpu} without requesting a GPU, so it can take a GPU node (spec.tolerations)"
    if not selector:
        for taint in sorted({d for d in (_dedicated(t, gpu) for t in tolerations) if d}):
            yield f"tolerates {taint} without a nodeSelector, so it can land on any node (spec.nodeSelector)"


POLICIES = [
    kubernetes_control(
        "k8s-rolling-update-zero-unavailable",
        "Deployments and Rollouts roll out without taking serving pods down.",
        Severity.MEDIUM,
        requirement("rollingUpdate maxUnavailable 0"),
        [DEPLOYMENT, ROLLOUT],
        "insecure: a Deployment's rollout and an Argo Rollout's canary and restarts allow 25% unavailable",
        "set maxUnavailable 0: spec.strategy.rollingUpdate (with maxSurge 1), or the Rollout's canary or blueGreen",
        _zero_unavailable,
    ),
    kubernetes_control(
        "k8s-dedicated-pool-placement",
        "GPU pods tolerate and select the GPU pool; only they tolerate it; dedicated tolerations select their pool.",
        Severity.HIGH,
        requirement("dedicated pools: saju-engine high-CPU, ai-models GPU"),
        # DaemonSets are node agents meant for every node they tolerate: the NVIDIA device
        # plugin tolerates the GPU taint without requesting a GPU, by design.
        [kind for kind in WORKLOADS if kind != DAEMON_SET],
        "mixed: without tolerations a pod stays off every tainted pool (secure); a toleration alone lets it "
        "land anywhere, and a GPU request alone leaves where it runs to the scheduler",
        "GPU pods: tolerate the GPU taint and set a nodeSelector for the GPU pool; others: no GPU toleration, "
        "and a nodeSelector for any pool whose taint they tolerate",
        _dedicated_pool_placement,
        settings={
            "gpuResource": {
                "type": "string",
                "default": "nvidia.com/gpu",
                # GKE taints GPU nodes nvidia.com/gpu=present:NoSchedule when the cluster also has
                # non-GPU pools (GKE docs, "Run GPUs in Standard node pools"), and
                # components/gcp/gke_node_pool.py sets the same taint on every GPU pool.
                "description": "the extended resource GPU pods request, also the key of the GPU nodes' taint",
            },
            "gpuNodeLabels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                # The label stacks/gcp_platform.py gives the GPU pool (node-class=gpu).
                "default": {"node-class": "gpu"},
                "description": f"node labels that select GPU nodes; {GKE_ACCELERATOR_LABEL} always does",
            },
        },
    ),
]
