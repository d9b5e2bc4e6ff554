"""Prod blocks every regression: under `policy/config/prod.json` ("all": "mandatory") a
control the prod stack passes today fails the update when one property regresses,
whatever the control's severity. Dev and staging keep severity-based enforcement.

Each case is one of tests/test_policy_controls.py's single changes, applied to the prod
synth record itself (a copy of the cached synth with one registration's inputs changed),
and evaluated as `make plan STACK=prod` does: the whole stack under prod's config file."""

from collections.abc import Callable

import pytest
from pulumi_policy import EnforcementLevel, Severity

from policy.rules import ALL_POLICIES
from policy.runner import config_file_for, evaluate, load_policy_config, resolve_settings
from tests.policy_fixtures import BY_NAME, DELETE, mutated
from tests.test_policy_controls import KUBERNETES, PROD, RESOURCE_CASES, STACK_CASES, _stack_case
from tools.mock_outputs import CLOUDFLARE_IPV4_RANGES
from tools.synth import SynthResult

# Kubernetes controls whose kinds prod does not register yet use the hardened fixtures,
# not the stack; "all" covers them once they do. Those whose kinds prod has get a case on
# prod's own objects (the workload namespace's policies, the ingress gateway's Services).
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
    two LoadBalancer Services are the gateways', in istio-ingress, open only to Cloudflare."""
    balancers = {r.name: r.inputs for r in prod.resources if r.type == "kubernetes:core/v1:Service"}
    assert set(balancers) == set(PROD_GATEWAY_SERVICES.values())
    for spec in (inputs["spec"] for inputs in balancers.values()):
        assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == list(CLOUDFLARE_IPV4_RANGES)
    assert {inputs["metadata"]["namespace"] for inputs in balancers.values()} == {"istio-ingress"}
