"""Prod blocks every regression: under `policy/config/prod.json` ("all": "mandatory") a
control the prod stack passes today fails the update when one property regresses,
whatever the control's severity. Dev and staging keep severity-based enforcement.

Each case is one of tests/test_policy_controls.py's single changes, applied to the prod
synth record itself (a copy of the cached synth with one registration's inputs changed),
and evaluated as `make plan STACK=prod` does: the whole stack under prod's config file. The
workload controls' cases change prod's own workloads (a general, a GPU and a dedicated
high-CPU pod), each control on each of them."""

from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, Severity

from policy.rules import ALL_POLICIES
from policy.rules.k8s_workloads import POD_SPEC_PATHS, ROLLOUT, image_tag
from policy.runner import config_file_for, evaluate, load_policy_config, resolve_settings
from tests.policy_fixtures import BY_NAME, DELETE, mutated
from tests.test_policy_controls import (
    GPU_TOLERATION,
    KUBERNETES,
    PROD,
    RESOURCE_CASES,
    STACK_CASES,
    _stack_case,
)
from tests.test_policy_workloads import NOT_YET_PASSING, WORKLOAD_CONTROLS
from tools.mock_outputs import CLOUDFLARE_IPV4_RANGES
from tools.synth import Registration, SynthResult, read_stack_config

# Kubernetes controls whose kinds prod does not register yet use the hardened fixtures,
# not the stack; "all" covers them once they do. Those whose kinds prod has get a case on
# prod's own objects (the workload namespace's policies, the ingress gateway's Services, and
# the workloads below).
PROD_NETWORK_POLICY = "heal7-prod-eks-heal7-production-allow-ingress-from-platform"
PROD_GATEWAY_SERVICES = {"eks": "heal7-prod-eks-ingress-service", "gke": "heal7-prod-gke-ingress-service"}
PROD_KUBERNETES_CASES = [
    (
        "k8s-network-policy-sources",
        PROD_NETWORK_POLICY,
        {"spec.ingress.0.from.0.namespaceSelector.matchLabels": {"kubernetes.io/metadata.name": "default"}},
    ),
    ("k8s-no-default-namespace", PROD_NETWORK_POLICY, {"metadata.namespace": "default"}),
    ("k8s-load-balancer-source-ranges", PROD_GATEWAY_SERVICES["eks"], {"spec.loadBalancerSourceRanges": ["0.0.0.0/0"]}),
    ("k8s-load-balancer-source-ranges", PROD_GATEWAY_SERVICES["gke"], {"spec.loadBalancerSourceRanges": DELETE}),
    ("k8s-load-balancer-only-ingress", PROD_GATEWAY_SERVICES["gke"], {"metadata.namespace": "heal7-production"}),
]
PROD_RESOURCE_CASES = [case for case in RESOURCE_CASES if case[1] not in KUBERNETES]

# -- the workloads ---------------------------------------------------------------------

# Prod's three kinds of workload (the HEAL7 design's placements): the web tier on EKS's general
# nodes, the GPU models on GKE's GPU pool, the Saju engine on EKS's tainted high-CPU group. Each
# is its AppDeployment's `-deployment`, or `-rollout` when a Rollout delivers it.
PROD_WORKLOADS = {
    "web-main": "heal7-prod-eks-heal7-web-main",
    "ai-models": "heal7-prod-gke-heal7-ai-models",
    "saju-engine": "heal7-prod-eks-heal7-saju-engine",
}
POD = "spec.template.spec"
APP = f"{POD}.containers.0"
Change = dict[str, Any] | Callable[[Registration], dict[str, Any]]


def _image(workload: Registration) -> tuple[str, str]:
    """The app container's repository and digest ("" while images are tag references)."""
    name, _, digest = workload.inputs["spec"]["template"]["spec"]["containers"][0]["image"].partition("@")
    return (name.rsplit(":", 1)[0] if image_tag(name) else name), digest


def _latest_tag(workload: Registration) -> dict[str, Any]:
    repository, digest = _image(workload)
    return {f"{APP}.image": f"{repository}:latest" + (f"@{digest}" if digest else "")}


def _tag_without_digest(workload: Registration) -> dict[str, Any]:
    """The image by its configured tag alone (Pulumi.prod.yaml), as before it was pinned."""
    tag = read_stack_config("prod")["platform:workloads"][workload.inputs["metadata"]["name"]]["image"]["tag"]
    return {f"{APP}.image": f"{_image(workload)[0]}:{tag}"}


def _quarter_unavailable(workload: Registration) -> dict[str, Any]:
    if workload.type == ROLLOUT:
        strategy = "canary" if "canary" in workload.inputs["spec"]["strategy"] else "blueGreen"
        return {f"spec.strategy.{strategy}.maxUnavailable": "25%"}
    return {"spec.strategy.rollingUpdate.maxUnavailable": "25%"}


def _without_gpus(workload: Registration) -> dict[str, Any]:
    limits = workload.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    return {f"{APP}.resources.limits": {k: v for k, v in limits.items() if k != "nvidia.com/gpu"}}


# (control, the single change), tried on each of PROD_WORKLOADS.
WORKLOAD_CASES: list[tuple[str, Change]] = [
    ("k8s-liveness-probe", {f"{APP}.livenessProbe": DELETE}),
    ("k8s-readiness-probe", {f"{APP}.readinessProbe": DELETE}),
    ("k8s-cpu-requests", {f"{APP}.resources.requests.cpu": DELETE}),
    ("k8s-cpu-limits", {f"{APP}.resources.limits.cpu": DELETE}),
    ("k8s-memory-requests", {f"{APP}.resources.requests.memory": DELETE}),
    ("k8s-memory-limits", {f"{APP}.resources.limits.memory": DELETE}),
    ("k8s-image-no-latest", _latest_tag),
    ("k8s-image-digest", _tag_without_digest),
    ("k8s-no-privileged", {f"{APP}.securityContext.privileged": True}),
    ("k8s-no-host-pid", {f"{POD}.hostPID": True}),
    ("k8s-no-host-ipc", {f"{POD}.hostIPC": True}),
    ("k8s-no-host-network", {f"{POD}.hostNetwork": True}),
    ("k8s-no-privilege-escalation", {f"{APP}.securityContext.allowPrivilegeEscalation": True}),
    ("k8s-read-only-root-filesystem", {f"{APP}.securityContext.readOnlyRootFilesystem": False}),
    # The container repeats the pod's user settings, and its own value wins (Kubernetes' precedence).
    ("k8s-run-as-non-root", {f"{APP}.securityContext.runAsNonRoot": False}),
    ("k8s-application-uid", {f"{APP}.securityContext.runAsUser": 2000}),
    ("k8s-drop-all-capabilities", {f"{APP}.securityContext.capabilities.drop": ["NET_RAW"]}),
    ("k8s-seccomp-runtime-default", {f"{POD}.securityContext.seccompProfile.type": "Unconfined"}),
    ("k8s-no-token-automount", {f"{POD}.automountServiceAccountToken": DELETE}),
    ("k8s-no-default-service-account", {f"{POD}.serviceAccountName": "default"}),
    ("k8s-rolling-update-zero-unavailable", _quarter_unavailable),
]
# (workload, the single change, what the violation says): each rule of the placement control.
PLACEMENT_CASES: list[tuple[str, Change, str]] = [
    ("ai-models", {f"{POD}.tolerations": DELETE}, "requests nvidia.com/gpu without tolerating the GPU nodes' taint"),
    ("ai-models", {f"{POD}.nodeSelector": {"node-class": "general"}}, "its nodeSelector selects no GPU nodes"),
    ("ai-models", _without_gpus, "tolerates the GPU taint nvidia.com/gpu without requesting a GPU"),
    ("web-main", {f"{POD}.tolerations": [GPU_TOLERATION]}, "tolerates the GPU taint nvidia.com/gpu without requesting"),
    (
        "saju-engine",
        {f"{POD}.nodeSelector": DELETE},
        "tolerates workload=saju-engine:NoSchedule without a nodeSelector",
    ),
]


def _workload_case(workload: str, policy: str, change: Change, problem: str = "", rule: int | None = None):
    # A control the real workloads fail already cannot show one regression. Once they pass it,
    # tests/test_policy_workloads.py fails until NOT_YET_PASSING loses it, and this mark goes too.
    marks = (
        [pytest.mark.xfail(strict=True, reason=f"{policy}: every prod workload fails it today (NOT_YET_PASSING)")]
        if policy in NOT_YET_PASSING
        else []
    )
    label = f"{workload}-{policy}" + ("" if rule is None else f"-{rule}")
    return pytest.param(workload, policy, change, problem, marks=marks, id=label)


PROD_WORKLOAD_CASES = [
    *(_workload_case(workload, policy, change) for workload in PROD_WORKLOADS for policy, change in WORKLOAD_CASES),
    *(
        _workload_case(workload, "k8s-dedicated-pool-placement", change, problem, rule)
        for rule, (workload, change, problem) in enumerate(PLACEMENT_CASES)
    ),
]
PROD_STACK_CASES = [name for name in STACK_CASES if not name.startswith("k8s-")]
# The examples, each advisory in prod before prod.json said "all": "mandatory".
FORMERLY_ADVISORY = {
    "ecr-scan-on-push",
    "kms-key-rotation",
    "rds-iam-authentication",
    "elasticache-automatic-failover",
    "gke-release-channel",
    "gke-secure-boot",
    "gke-node-auto-repair",
}


MESH_AND_INGRESS = (
    "istio-mesh-strict-mtls",
    "istio-strict-mtls",
    "istio-namespace-default-deny",
    "k8s-load-balancer-source-ranges",
    "k8s-load-balancer-only-ingress",
    "istio-gateway-origin-pull-mtls",
)


@pytest.fixture(scope="module")
def prod(synthed) -> SynthResult:
    return synthed("prod")


@pytest.fixture(scope="module")
def prod_config() -> dict:
    return load_policy_config(config_file_for("prod"))


def _with_change(result: SynthResult, name: str, change: dict) -> SynthResult:
    """The prod record with one cloud resource's inputs changed (the cached synth stays intact)."""
    target = next(
        r for r in result.resources if r.name == name and r.package in ("aws", "gcp", "cloudflare", "kubernetes")
    )
    return SynthResult(result.stack, [mutated(r, change) if r is target else r for r in result.resources], {}, [])


def test_prod_config_makes_every_control_mandatory(prod_config):
    levels = resolve_settings(prod_config)
    assert {name for name, chosen in levels.items() if chosen.enforcement != EnforcementLevel.MANDATORY} == set()
    # The point of the file: controls whose own severity would only advise.
    lenient = {p.name for p in ALL_POLICIES if p.severity in (Severity.MEDIUM, Severity.LOW)}
    assert lenient >= FORMERLY_ADVISORY and len(lenient) >= 30


def test_dev_and_staging_keep_severity_based_enforcement():
    for stack in ("dev", "staging"):
        levels = resolve_settings(load_policy_config(config_file_for(stack)))
        assert levels["ecr-scan-on-push"].enforcement == EnforcementLevel.ADVISORY
        assert levels["rds-storage-encrypted"].enforcement == EnforcementLevel.MANDATORY
        # The mesh and ingress controls are high: mandatory in every stack, no file lists them.
        assert {name: levels[name].enforcement for name in MESH_AND_INGRESS} == dict.fromkeys(
            MESH_AND_INGRESS, EnforcementLevel.MANDATORY
        )


def test_every_medium_and_low_control_with_prod_resources_is_covered(prod):
    """Each lenient control that reads a resource type prod has gets a regression case below."""
    prod_types = {r.type for r in prod.resources}
    covered = {name for name, _, _ in PROD_RESOURCE_CASES + PROD_KUBERNETES_CASES}
    covered |= {case.values[1] for case in PROD_WORKLOAD_CASES}
    lenient_in_prod = {
        p.name
        for p in ALL_POLICIES
        if p.severity in (Severity.MEDIUM, Severity.LOW) and set(getattr(p, "resource_types", ())) & prod_types
    }
    assert lenient_in_prod and lenient_in_prod <= covered
    assert covered >= FORMERLY_ADVISORY


@pytest.mark.parametrize(
    ("policy_name", "fixture", "change"), PROD_RESOURCE_CASES, ids=[c[0] for c in PROD_RESOURCE_CASES]
)
def test_one_property_regression_on_prod_is_mandatory(prod, prod_config, policy_name, fixture, change):
    report = evaluate(_with_change(prod, PROD[fixture], change), prod_config, config_file="prod.json")
    assert {(v.policy, v.resource_name) for v in report.violations} == {(policy_name, PROD[fixture])}
    assert [v.enforcement for v in report.violations] == ["mandatory"] * len(report.violations)
    assert report.violations[0].severity == BY_NAME[policy_name].severity.value


@pytest.mark.parametrize(("policy_name", "resource_name", "change"), PROD_KUBERNETES_CASES)
def test_one_property_regression_on_a_prod_kubernetes_object_is_mandatory(
    prod, prod_config, policy_name, resource_name, change
):
    report = evaluate(_with_change(prod, resource_name, change), prod_config, config_file="prod.json")
    assert {(v.policy, v.resource_name) for v in report.violations} == {(policy_name, resource_name)}
    assert [v.enforcement for v in report.violations] == ["mandatory"]


@pytest.mark.parametrize("policy_name", PROD_STACK_CASES)
def test_one_stack_regression_on_prod_is_mandatory(prod, prod_config, policy_name):
    change: Callable[[SynthResult], SynthResult] = _stack_case(policy_name)
    report = evaluate(change(prod), prod_config, config_file="prod.json")
    assert {v.policy for v in report.violations} == {policy_name}
    assert {v.enforcement for v in report.violations} == {"mandatory"}


def test_unchanged_prod_passes_under_its_config(prod, prod_config):
    report = evaluate(prod, prod_config, config_file="prod.json")
    assert report.violations == [] and report.not_evaluated == []


def test_a_permissive_mesh_policy_on_prod_fails_both_mtls_controls(prod, prod_config):
    """The mesh-wide policy relaxed: the object itself (istio-strict-mtls) and the EKS mesh it no
    longer covers (istio-mesh-strict-mtls); GKE keeps its own policy."""
    change = {"spec.mtls.mode": "PERMISSIVE"}
    report = evaluate(
        _with_change(prod, "heal7-prod-eks-mesh-strict-mtls", change), prod_config, config_file="prod.json"
    )
    assert {(v.policy, v.resource_name, v.enforcement) for v in report.violations} == {
        ("istio-strict-mtls", "heal7-prod-eks-mesh-strict-mtls", "mandatory"),
        ("istio-mesh-strict-mtls", "heal7-prod-eks-mesh-istiod", "mandatory"),
    }


def test_prod_gateway_services_admit_only_the_cloudflare_ranges(prod, prod_config):
    """What k8s-load-balancer-source-ranges and k8s-load-balancer-only-ingress pass on prod: the
    two internet-facing LoadBalancer Services are the gateways', in istio-ingress, open only to
    Cloudflare; the one internal load balancer (GKE's Prometheus for EKS's Grafana) admits the
    AWS VPC only."""
    services = {r.name: r.inputs for r in prod.resources if r.type == "kubernetes:core/v1:Service"}
    internal = {
        name: inputs
        for name, inputs in services.items()
        if (inputs["metadata"].get("annotations") or {}).get("networking.gke.io/load-balancer-type") == "Internal"
    }
    assert set(internal) == {"heal7-prod-gke-monitoring-prometheus-internal"}
    assert [inputs["spec"]["loadBalancerSourceRanges"] for inputs in internal.values()] == [
        [read_stack_config("prod")["platform:aws"]["network"]["vpcCidr"]]
    ]
    services = {name: inputs for name, inputs in services.items() if name not in internal}
    balancers = {name: inputs for name, inputs in services.items() if inputs["spec"].get("type") == "LoadBalancer"}
    assert set(balancers) == set(PROD_GATEWAY_SERVICES.values())
    # Every other Service (the workloads') stays inside its cluster.
    assert {inputs["spec"]["type"] for name, inputs in services.items() if name not in balancers} == {"ClusterIP"}
    for spec in (inputs["spec"] for inputs in balancers.values()):
        assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == list(CLOUDFLARE_IPV4_RANGES)
    assert {inputs["metadata"]["namespace"] for inputs in balancers.values()} == {"istio-ingress"}


def _workload(result: SynthResult, component: str) -> Registration:
    (found,) = [r for r in result.resources if r.type in POD_SPEC_PATHS and r.name.rsplit("-", 1)[0] == component]
    return found


def test_the_prod_workloads_are_the_three_placements(prod):
    """What the cases below change: a general pod, a GPU pod, a dedicated high-CPU pod."""
    pods = {
        key: _workload(prod, component).inputs["spec"]["template"]["spec"] for key, component in PROD_WORKLOADS.items()
    }
    assert {key: pod["nodeSelector"] for key, pod in pods.items()} == {
        "web-main": {"node-class": "general"},
        "ai-models": {"node-class": "gpu"},
        "saju-engine": {"node-class": "high-cpu"},
    }
    assert {
        key: [(t["key"], t["value"], t["effect"]) for t in pod.get("tolerations", [])] for key, pod in pods.items()
    } == {
        "web-main": [],
        "ai-models": [("nvidia.com/gpu", "present", "NoSchedule")],
        "saju-engine": [("workload", "saju-engine", "NoSchedule")],
    }
    assert {key: pod["containers"][0]["resources"]["limits"].get("nvidia.com/gpu") for key, pod in pods.items()} == {
        "web-main": None,
        "ai-models": "1",
        "saju-engine": None,
    }


@pytest.mark.parametrize(("workload", "policy_name", "change", "problem"), PROD_WORKLOAD_CASES)
def test_one_property_regression_on_a_prod_workload_is_mandatory(
    prod, prod_config, workload, policy_name, change, problem
):
    target = _workload(prod, PROD_WORKLOADS[workload])
    changed = evaluate(
        _with_change(prod, target.name, change(target) if callable(change) else change),
        prod_config,
        config_file="prod.json",
    )
    regressions = [v for v in changed.violations if v.policy not in NOT_YET_PASSING]
    assert {(v.policy, v.resource_name) for v in regressions} == {(policy_name, target.name)}
    assert {v.enforcement for v in regressions} == {"mandatory"}
    assert all(problem in v.message for v in regressions)
    # What the exception lets through is what unchanged prod fails, nothing more.
    unchanged = evaluate(prod, prod_config, config_file="prod.json")
    assert {(v.policy, v.resource_name) for v in changed.violations if v.policy in NOT_YET_PASSING} == {
        (v.policy, v.resource_name) for v in unchanged.violations
    }


def test_every_workload_control_has_a_prod_case():
    assert {case.values[1] for case in PROD_WORKLOAD_CASES} == {p.name for p in WORKLOAD_CONTROLS}
