"""policy/rules/k8s_scheduling.py in detail: each way a pod misplaces itself on (or off) a
dedicated pool, each way a Deployment or an Argo Rollout drops capacity, and what both controls
accept. The one-change cases of tests/test_policy_controls.py cover each control once; the
prod workloads' own cases are in tests/test_policy_prod.py."""

from typing import Any

import pytest

from policy.runner import PolicyConfigError, evaluate, resolve_settings
from tests import policy_fixtures as k8s
from tests.policy_fixtures import BY_NAME, DELETE, mutated, record
from tests.test_policy_controls import CONTAINER, GPU_TOLERATION, POD, RESOURCE_POLICIES
from tools.synth import Registration

PLACEMENT = "k8s-dedicated-pool-placement"
ZERO_UNAVAILABLE = "k8s-rolling-update-zero-unavailable"
SAJU_TOLERATION = {"key": "workload", "operator": "Equal", "value": "saju-engine", "effect": "NoSchedule"}
GPU_NODES = "one of node-class=gpu, cloud.google.com/gke-accelerator"
NO_GPU_TOLERATION = "requests nvidia.com/gpu without tolerating the GPU nodes' taint nvidia.com/gpu:NoSchedule"
NO_GPU_SELECTOR = f"requests nvidia.com/gpu but its nodeSelector selects no GPU nodes (spec.nodeSelector: {GPU_NODES})"
GPU_TOLERATED_ONLY = "tolerates the GPU taint nvidia.com/gpu without requesting a GPU, so it can take a GPU node"
FIXTURES = {"general": k8s.deployment, "gpu": k8s.gpu_deployment, "saju": k8s.dedicated_deployment}


def _anywhere(taint: str) -> str:
    return f"tolerates {taint} without a nodeSelector, so it can land on any node (spec.nodeSelector)"


def _violations(resource: Registration, config: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(policy, problem) of every resource control on `resource` alone."""
    report = evaluate(record(resource), config, policies=RESOURCE_POLICIES)
    assert report.not_evaluated == []
    return [(v.policy, v.message.split(": ", 1)[1].split(". Fix:")[0]) for v in report.violations]


@pytest.mark.parametrize(
    ("fixture", "change", "problems"),
    [
        ("gpu", {f"{POD}.tolerations": DELETE}, [f"{NO_GPU_TOLERATION} (spec.tolerations)"]),
        # A NoExecute toleration does not tolerate the NoSchedule taint.
        (
            "gpu",
            {f"{POD}.tolerations": [{**GPU_TOLERATION, "effect": "NoExecute"}]},
            [f"{NO_GPU_TOLERATION} (spec.tolerations)"],
        ),
        ("gpu", {f"{POD}.nodeSelector": DELETE}, [NO_GPU_SELECTOR]),
        ("gpu", {f"{POD}.nodeSelector": {"node-class": "general"}}, [NO_GPU_SELECTOR]),
        # The GPU limit removed: the pod still tolerates the GPU nodes it no longer needs.
        (
            "gpu",
            {f"{CONTAINER}.resources.limits": {"cpu": "1", "memory": "2Gi"}},
            [f"{GPU_TOLERATED_ONLY} (spec.tolerations)"],
        ),
        (
            "gpu",
            {f"{CONTAINER}.resources.limits": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "0"}},
            [f"{GPU_TOLERATED_ONLY} (spec.tolerations)"],
        ),
        (
            "general",
            {f"{POD}.tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]},
            [f"{GPU_TOLERATED_ONLY} (spec.tolerations)"],
        ),
        # Tolerating every taint: the GPU nodes and every dedicated pool.
        (
            "general",
            {f"{POD}.tolerations": [{"operator": "Exists"}]},
            [f"{GPU_TOLERATED_ONLY} (spec.tolerations)", _anywhere("every taint")],
        ),
        ("saju", {f"{POD}.nodeSelector": DELETE}, [_anywhere("workload=saju-engine:NoSchedule")]),
        (
            "general",
            {f"{POD}.tolerations": [{"key": "workload", "operator": "Exists", "effect": "NoExecute"}]},
            [_anywhere("workload:NoExecute")],
        ),
        (
            "general",
            {f"{POD}.tolerations": [{"key": "workload", "operator": "Equal", "value": "saju-engine"}]},
            [_anywhere("workload=saju-engine:every effect")],
        ),
    ],
    ids=[
        "gpu-no-toleration",
        "gpu-noexecute-only",
        "gpu-no-selector",
        "gpu-general-selector",
        "gpu-toleration-without-limit",
        "gpu-toleration-zero-gpus",
        "gpu-toleration-exists",
        "tolerates-everything",
        "dedicated-no-selector",
        "dedicated-noexecute-no-selector",
        "dedicated-every-effect-no-selector",
    ],
)
def test_every_way_a_pod_misplaces_itself_on_a_dedicated_pool_is_refused(fixture, change, problems):
    assert _violations(mutated(FIXTURES[fixture](), change)) == [(PLACEMENT, problem) for problem in problems]


@pytest.mark.parametrize(
    ("fixture", "change"),
    [
        # GKE labels every GPU node with its accelerator: selecting it selects GPU nodes.
        ("gpu", {f"{POD}.nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"}}),
        # GPUs requested through requests (and limits) as an integer.
        ("gpu", {f"{CONTAINER}.resources.requests": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": 1}}),
        ("gpu", {f"{POD}.tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}),
        # Kubernetes' own node-condition taints are no dedicated pool.
        (
            "general",
            {
                f"{POD}.tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 30},
                ]
            },
        ),
        # PreferNoSchedule only discourages: it keeps nobody off the pool.
        ("general", {f"{POD}.tolerations": [{**SAJU_TOLERATION, "effect": "PreferNoSchedule"}]}),
        ("general", {f"{POD}.tolerations": [SAJU_TOLERATION], f"{POD}.nodeSelector": {"node-class": "high-cpu"}}),
    ],
    ids=["gke-accelerator", "gpu-requests", "gpu-exists", "system-taints", "prefer-no-schedule", "dedicated-selected"],
)
def test_placements_the_control_accepts(fixture, change):
    assert _violations(mutated(FIXTURES[fixture](), change)) == []


def test_the_gpu_pool_label_is_a_setting():
    """A platform whose GPU pool has another label says so in the stack's policy config."""
    labelled = mutated(k8s.gpu_deployment(), {f"{POD}.nodeSelector": {"accelerator": "nvidia"}})
    assert _violations(labelled) == [(PLACEMENT, NO_GPU_SELECTOR)]
    config = {PLACEMENT: {"gpuNodeLabels": {"accelerator": "nvidia"}}}
    assert _violations(labelled, config) == []
    # The pool the default names no longer counts once the setting replaces it.
    expected = NO_GPU_SELECTOR.replace("node-class=gpu", "accelerator=nvidia")
    assert _violations(k8s.gpu_deployment(), config) == [(PLACEMENT, expected)]
    with pytest.raises(PolicyConfigError, match=r"k8s-dedicated-pool-placement\.gpuNodeLabels\.accelerator: 1 is not"):
        resolve_settings({PLACEMENT: {"gpuNodeLabels": {"accelerator": 1}}})


def test_node_agents_may_tolerate_the_gpu_taint():
    """A DaemonSet (the NVIDIA device plugin) tolerates the GPU taint without requesting a GPU."""
    pod = {**k8s.hardened_pod_spec(), "tolerations": [GPU_TOLERATION]}
    agent = k8s.registration(
        "kubernetes:apps/v1:DaemonSet",
        "gpu-agent",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "gpu-agent", "namespace": k8s.NAMESPACE},
            "spec": {"selector": {"matchLabels": {"app": "gpu-agent"}}, "template": {"spec": pod}},
        },
    )
    assert PLACEMENT not in {policy for policy, _ in _violations(agent)}
    assert BY_NAME[PLACEMENT].resource_types.isdisjoint({"kubernetes:apps/v1:DaemonSet"})
    assert _violations(mutated(k8s.deployment(), {f"{POD}.tolerations": [GPU_TOLERATION]})) == [
        (PLACEMENT, f"{GPU_TOLERATED_ONLY} (spec.tolerations)")
    ]


# -- rollouts ------------------------------------------------------------------------

CANARY_DOWN = "a rollout may take serving pods down (spec.strategy.canary.maxUnavailable is not 0, default 25%)"
RESTART_DOWN = "a restart may take serving pods down (spec.strategy.blueGreen.maxUnavailable is not 0, default 25%)"
BLUE_GREEN = {"activeService": "web-main", "previewService": "web-main-preview", "autoPromotionEnabled": False}


@pytest.mark.parametrize(
    ("strategy", "problems"),
    [
        ({"canary": {"steps": [{"setWeight": 10}]}}, [CANARY_DOWN]),
        ({"canary": {"maxUnavailable": "10%"}}, [CANARY_DOWN]),
        ({"canary": {"maxUnavailable": 1}}, [CANARY_DOWN]),
        (
            {"canary": {"maxUnavailable": 0, "maxSurge": "0%"}},
            ["maxSurge and maxUnavailable are both 0, which the controller refuses (spec.strategy.canary)"],
        ),
        ({"blueGreen": BLUE_GREEN}, [RESTART_DOWN]),
        ({"blueGreen": {**BLUE_GREEN, "maxUnavailable": "25%"}}, [RESTART_DOWN]),
        ({}, ["names no canary or blueGreen strategy, which the controller refuses (spec.strategy)"]),
    ],
    ids=[
        "canary-default",
        "canary-percent",
        "canary-one",
        "canary-both-zero",
        "bluegreen-default",
        "bluegreen-25",
        "none",
    ],
)
def test_every_way_a_rollout_drops_capacity_is_refused(strategy, problems):
    resource = mutated(k8s.rollout(), {"spec.strategy": strategy})
    assert _violations(resource) == [(ZERO_UNAVAILABLE, problem) for problem in problems]


@pytest.mark.parametrize(
    "strategy",
    [
        {"canary": {"maxUnavailable": 0}},
        {"canary": {"maxUnavailable": "0%", "maxSurge": 1, "steps": [{"setWeight": 50}]}},
        {"blueGreen": {**BLUE_GREEN, "maxUnavailable": 0}},
    ],
    ids=["canary", "canary-percent-zero", "bluegreen"],
)
def test_rollouts_that_keep_every_pod_pass(strategy):
    assert _violations(mutated(k8s.rollout(), {"spec.strategy": strategy})) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"spec.strategy.rollingUpdate.maxUnavailable": DELETE}, "spec.strategy.rollingUpdate.maxUnavailable is not 0"),
        ({"spec.strategy": DELETE}, "spec.strategy.rollingUpdate.maxUnavailable is not 0"),
        ({"spec.strategy": {"type": "Recreate"}}, "the Recreate strategy"),
        ({"spec.strategy.rollingUpdate.maxSurge": 0}, "both 0, which the API server refuses"),
    ],
    ids=["unset", "no-strategy", "recreate", "both-zero"],
)
def test_every_way_a_deployment_drops_capacity_is_refused(change, problem):
    ((policy, message),) = _violations(mutated(k8s.deployment(), change))
    assert policy == ZERO_UNAVAILABLE and problem in message


def test_a_rollout_that_references_a_deployment_is_checked_on_the_deployment():
    """`spec.workloadRef` (argo-rollouts docs/migrating.md): the pod template is the Deployment's,
    which the pod controls check there; the Rollout's strategy is still its own."""
    reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-main"}
    referencing = mutated(k8s.rollout(), {"spec.template": DELETE, "spec.workloadRef": reference})
    assert _violations(referencing) == []
    no_zero = mutated(referencing, {"spec.strategy.canary.maxUnavailable": DELETE})
    assert _violations(no_zero) == [(ZERO_UNAVAILABLE, CANARY_DOWN)]
    # Without the reference, a Rollout without a template runs as the default service account.
    assert {policy for policy, _ in _violations(mutated(k8s.rollout(), {"spec.template": DELETE}))} == {
        "k8s-no-token-automount",
        "k8s-no-default-service-account",
    }
