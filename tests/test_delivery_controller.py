"""Progressive delivery's controller and objects: the Argo Rollouts chart is pinned, trusted,
in a restricted namespace and HA with the tier, once per cluster; every Rollout and
AnalysisTemplate validates against argo-rollouts v1.9.0's types (the chart's app version),
strictly, and the check is shown to refuse a bad object.
"""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.kubernetes import _charts
from components.kubernetes.progressive_delivery import NAMESPACE as ROLLOUTS_NAMESPACE
from policy.rules.k8s_charts import TRUSTED_REPOSITORIES
from tests.argo_rollouts_validation import argo_rollouts_errors
from tests.conftest import STACKS
from tests.kubernetes_validation import describe
from tests.test_delivery import CHART, CLUSTERS, _cluster, _synth_override
from tools import manifests
from tools.synth import Registration, SynthResult

ARGO_GROUP = "argoproj.io"


def _rollouts_chart(result: SynthResult, prefix: str) -> Registration:
    return result.one(CHART, f"{prefix}-rollouts-chart")


@pytest.mark.parametrize(("stack", "highly_available"), [("dev", False), ("staging", True), ("prod", True)])
def test_the_controller_chart_is_pinned_restricted_and_ha_with_the_tier(synthed, stack, highly_available):
    result = synthed(stack)
    pinned = _charts.ARGO_ROLLOUTS
    assert pinned.repository in TRUSTED_REPOSITORIES
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        inputs = _rollouts_chart(result, prefix).inputs
        assert (inputs["repositoryOpts"]["repo"], inputs["chart"], inputs["version"]) == (
            pinned.repository,
            "argo-rollouts",
            "2.41.0",
        )
        namespace = result.one("kubernetes:core/v1:Namespace", f"{prefix}-rollouts-namespace").inputs["metadata"]
        assert namespace["name"] == inputs["namespace"] == ROLLOUTS_NAMESPACE
        modes = ("enforce", "warn", "audit")
        assert {namespace["labels"][f"pod-security.kubernetes.io/{mode}"] for mode in modes} == {"restricted"}
        values = inputs["values"]
        assert values["installCRDs"] is True and values["keepCRDs"] is True
        assert values["dashboard"] == {"enabled": False}
        controller = values["controller"]
        assert controller["replicas"] == (2 if highly_available else 1)
        assert controller["pdb"]["enabled"] is highly_available and controller["pdb"]["maxUnavailable"] == 1
        assert ("topologySpreadConstraints" in controller) is highly_available
        # Pod Security restricted: what the chart's pod and container must carry.
        assert values["podSecurityContext"]["runAsNonRoot"] is True
        container = values["containerSecurityContext"]
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
        assert container["readOnlyRootFilesystem"] is True
        assert container["seccompProfile"] == {"type": "RuntimeDefault"}
        # Only Istio's traffic-routing RBAC, and no literal in a notification Secret.
        providers = values["providerRBAC"]["providers"]
        assert {name for name, granted in providers.items() if granted} == {"istio"}
        assert len(providers) == 10
        assert values["notifications"]["secret"]["create"] is False


def _charts_per_cluster(result: SynthResult) -> Callable[[str], list[str]]:
    return lambda prefix: [r.inputs["chart"] for r in result.of_type(CHART) if r.name.startswith(f"{prefix}-")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_cluster_runs_the_controller_once(synthed, stack):
    result = synthed(stack)
    charts = _charts_per_cluster(result)
    for cluster in CLUSTERS:
        assert charts(_cluster(stack, cluster)).count("argo-rollouts") == 1
    assert [r.inputs["chart"] for r in result.of_type(CHART)].count("argo-rollouts") == len(CLUSTERS)


# ---------------------------------------------------------------- CRD schemas


def _argo_objects(result: SynthResult) -> list[dict[str, Any]]:
    """Copies (the synth results are cached) of every argoproj.io object of every cluster."""
    return [
        copy.deepcopy(o.manifest)
        for cluster in manifests.collect(result).values()
        for o in cluster.objects
        if o.api_version.split("/")[0] == ARGO_GROUP
    ]


def _errors(objects: list[dict[str, Any]]) -> dict[str, tuple[list[str], list[str]]]:
    return {
        f"{describe(o)} #{i}": (found.schema, found.strict)
        for i, (o, found) in enumerate(zip(objects, argo_rollouts_errors(objects), strict=True))
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_rollout_and_analysis_template_validates_strictly(synthed, stack):
    objects = _argo_objects(synthed(stack))
    # web-main on both clusters: a Rollout and its AnalysisTemplate each.
    assert sorted(o["kind"] for o in objects) == ["AnalysisTemplate"] * 2 + ["Rollout"] * 2
    errors = _errors(objects)
    assert errors == {key: ([], []) for key in errors}


def test_the_blue_green_objects_validate_strictly():
    result = _synth_override("blueGreen", "staging", strategy="blueGreen", analysis={"windowMinutes": 7})
    objects = _argo_objects(result)
    assert any("blueGreen" in o["spec"].get("strategy", {}) for o in objects)
    errors = _errors(objects)
    assert errors == {key: ([], []) for key in errors}


def _at(path: list[Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def find(manifest: dict[str, Any]) -> dict[str, Any]:
        target = manifest
        for key in path:
            target = target[key]
        return target

    return find


@pytest.mark.parametrize(
    ("kind", "where", "key", "value", "expected_strict", "expected_schema"),
    [
        (
            "Rollout",
            ["spec", "strategy", "canary", "steps", 1, "setHeaderRoute"],
            "nam",
            "canary-header",
            "spec.strategy.canary.steps[1].setHeaderRoute.nam: unknown field",
            None,
        ),
        (
            "Rollout",
            ["spec", "strategy", "canary", "trafficRouting", "istio", "destinationRule"],
            "canarySubset",
            "canary",
            "spec.strategy.canary.trafficRouting.istio.destinationRule.canarySubset: unknown field",
            None,
        ),
        (
            "Rollout",
            ["spec", "template", "spec", "containers", 0, "securityContext"],
            "runAsUsr",
            1001,
            "spec.template.spec.containers[0].securityContext.runAsUsr: unknown field",
            None,
        ),
        (
            "Rollout",
            ["spec", "strategy", "canary", "steps", 0],
            "setWeight",
            "10",
            "spec.strategy.canary.steps[0].setWeight: Type 'string' is not assignable to type 'number'.",
            "/spec/strategy/canary/steps/0/setWeight: must be integer",
        ),
        (
            "AnalysisTemplate",
            ["spec", "metrics", 0, "provider", "prometheus"],
            "adress",
            "http://prometheus:9090",
            "spec.metrics[0].provider.prometheus.adress: unknown field",
            None,
        ),
        (
            "AnalysisTemplate",
            ["spec", "metrics", 0],
            "interval",
            60,
            "spec.metrics[0].interval: Type 'number' is not assignable to type 'string'.",
            "/spec/metrics/0/interval: must be string",
        ),
    ],
    ids=[
        "header route typo",
        "subset reference typo",
        "pod template typo",
        "weight as text",
        "provider typo",
        "interval as number",
    ],
)
def test_the_check_refuses_a_bad_object(synthed, kind, where, key, value, expected_strict, expected_schema):
    objects = [o for o in _argo_objects(synthed("prod")) if o["kind"] == kind][:1]
    _at(where)(objects[0])[key] = value
    (found,) = argo_rollouts_errors(objects)
    assert found.strict == [expected_strict]
    # The validators may report one error twice (a field checked by two schema paths).
    assert set(found.schema) == ({expected_schema} if expected_schema else set())
