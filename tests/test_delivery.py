"""Progressive delivery: the HEAL7 design's web-main is an Argo Rollout on both clusters, with
the config's canary steps, the `canary: true` header route, Istio subsets and a Prometheus
analysis; its HPA, VPA and PDB follow the Rollout; blueGreen (set by a config override) has an
active and a preview Service; the controller's chart is pinned, HA where the tier is.
"""

import copy
from typing import Any

import pytest

from components.kubernetes._rollout_specs import (
    DEFAULT_PROMETHEUS_ADDRESS,
    POD_TEMPLATE_HASH_LABEL,
    Analysis,
    Delivery,
    canary_steps,
    canary_strategy,
)
from tests.conftest import STACKS, assert_rejected_before_any_resource
from tools.synth import Registration, SynthResult, read_stack_config, synth

WEB = "heal7-web-main"
ROLLING = {"eks": {"heal7-api-gateway", "heal7-saju-engine"}, "gke": {"heal7-api-gateway", "heal7-ai-models"}}
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
VPA = "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
CHART = "kubernetes:helm.sh/v4:Chart"
ROLLOUT_TARGET = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": WEB}
CLUSTERS = ("eks", "gke")


def _cluster(stack: str, cluster: str) -> str:
    return f"heal7-{stack}-{cluster}"


def _namespace(stack: str) -> str:
    """web-main's namespace in the stack file."""
    return read_stack_config(stack)["platform:workloads"][WEB]["namespace"]


def _mine(result: SynthResult, type_token: str, cluster_prefix: str, workload: str = WEB) -> list[Registration]:
    """Registrations of `type_token` belonging to `workload` on one cluster (by resource name)."""
    return [r for r in result.of_type(type_token) if r.name.startswith(f"{cluster_prefix}-{workload}-")]


def _one(result: SynthResult, type_token: str, cluster_prefix: str, workload: str = WEB) -> dict[str, Any]:
    (found,) = _mine(result, type_token, cluster_prefix, workload)
    return found.inputs


def _override(stack: str, **delivery: Any) -> dict[str, Any]:
    config = copy.deepcopy(read_stack_config(stack))
    config["platform:workloads"][WEB]["delivery"] = delivery
    return config


_OVERRIDES: dict[str, SynthResult] = {}


def _synth_override(key: str, stack: str, **delivery: Any) -> SynthResult:
    if key not in _OVERRIDES:
        _OVERRIDES[key] = synth(stack, _override(stack, **delivery))
    return _OVERRIDES[key]


@pytest.fixture(scope="module")
def custom_canary() -> SynthResult:
    """web-main with non-default steps and thresholds, so each is seen to come from config."""
    return _synth_override(
        "canary",
        "staging",
        strategy="canary",
        canary={"steps": [5, 20, 60, 100]},
        analysis={"maxErrorRatio": 0.02, "maxP95LatencyMs": 300, "windowMinutes": 5},
    )


@pytest.fixture(scope="module")
def blue_green() -> SynthResult:
    return _synth_override("blueGreen", "staging", strategy="blueGreen", analysis={"windowMinutes": 7})


# ---------------------------------------------------------------- the Rollout replaces the Deployment


@pytest.mark.parametrize("stack", STACKS)
def test_web_main_is_a_rollout_and_the_others_stay_rolling_deployments(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        assert _mine(result, DEPLOYMENT, prefix) == []
        rollout = _one(result, ROLLOUT, prefix)
        assert rollout["metadata"]["name"] == WEB
        assert rollout["metadata"]["namespace"] == _namespace(stack)
        # The Deployment's pod, unchanged: the hardened template with the workload's labels.
        template = rollout["spec"]["template"]
        assert template["metadata"]["labels"] == {"app": WEB}
        assert template["spec"]["securityContext"]["runAsUser"] == 1001
        assert rollout["spec"]["selector"] == {"matchLabels": {"app": WEB}}
        # The HPA owns the count.
        assert "replicas" not in rollout["spec"]
        for workload in ROLLING[cluster]:
            deployment = _one(result, DEPLOYMENT, prefix, workload)
            assert deployment["spec"]["strategy"] == {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }
            assert _mine(result, ROLLOUT, prefix, workload) == []
            assert _mine(result, ANALYSIS_TEMPLATE, prefix, workload) == []
        assert len(result.of_type(ROLLOUT)) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_files_canary_steps_header_route_and_background_analysis(synthed, stack):
    """The defaults the stack files take: 10 %, 50 %, 100 % with 10-minute pauses between."""
    canary = _one(synthed(stack), ROLLOUT, _cluster(stack, "eks"))["spec"]["strategy"]["canary"]
    header = {
        "setHeaderRoute": {
            "name": "canary-header",
            "match": [{"headerName": "canary", "headerValue": {"exact": "true"}}],
        }
    }
    assert canary["steps"] == [
        {"setWeight": 10},
        header,
        {"pause": {"duration": "10m"}},
        {"setWeight": 50},
        {"pause": {"duration": "10m"}},
        {"setWeight": 100},
    ]
    # The header route is one the controller may add, above the weighted route.
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "canary-header"}]
    assert canary["maxUnavailable"] == 0
    # Background analysis over the whole rollout, on the new ReplicaSet's pods.
    assert canary["analysis"] == {
        "templates": [{"templateName": f"{WEB}-analysis"}],
        "args": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }
    assert "startingStep" not in canary["analysis"]


def test_the_steps_and_window_come_from_config(custom_canary):
    for cluster in CLUSTERS:
        steps = _one(custom_canary, ROLLOUT, _cluster("staging", cluster))["spec"]["strategy"]["canary"]["steps"]
        assert [s["setWeight"] for s in steps if "setWeight" in s] == [5, 20, 60, 100]
        assert [s["pause"] for s in steps if "pause" in s] == [{"duration": "5m"}] * 3
        # The header route from the first weight on; no pause after the last weight.
        assert list(steps[1]) == ["setHeaderRoute"] and steps[-1] == {"setWeight": 100}


def test_without_the_header_route_no_route_is_managed():
    delivery = Delivery(strategy="canary", steps=(25, 100), header_route=False, analysis=Analysis(window_minutes=3))
    assert canary_steps(delivery) == [{"setWeight": 25}, {"pause": {"duration": "3m"}}, {"setWeight": 100}]
    assert "managedRoutes" not in canary_strategy(WEB, delivery)["trafficRouting"]


# ---------------------------------------------------------------- what follows the Rollout


@pytest.mark.parametrize("stack", STACKS)
def test_hpa_vpa_and_pdb_follow_the_rollout(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        rollout = _one(result, ROLLOUT, prefix)
        assert _one(result, HPA, prefix)["spec"]["scaleTargetRef"] == ROLLOUT_TARGET
        assert _one(result, VPA, prefix)["spec"]["targetRef"] == ROLLOUT_TARGET
        # The PDB selects every version's pods: its labels are a subset of the template's.
        selector = _one(result, PDB, prefix)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= rollout["spec"]["template"]["metadata"]["labels"].items()
        assert selector == rollout["spec"]["selector"]["matchLabels"]
        for workload in ROLLING[cluster]:
            target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}
            assert _one(result, HPA, prefix, workload)["spec"]["scaleTargetRef"] == target


@pytest.mark.parametrize("stack", STACKS)
def test_the_rollout_and_its_template_wait_for_the_controller_chart(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        chart = result.one(CHART, f"{prefix}-rollouts-chart")
        for type_token in (ROLLOUT, ANALYSIS_TEMPLATE):
            (registration,) = _mine(result, type_token, prefix)
            assert chart.urn in registration.dependencies, registration.name
        # The rolling workloads do not wait for it.
        for workload in ROLLING[cluster]:
            (deployment,) = _mine(result, DEPLOYMENT, prefix, workload)
            assert chart.urn not in deployment.dependencies


# ---------------------------------------------------------------- Istio: routes and subsets


@pytest.mark.parametrize("stack", STACKS)
def test_the_mesh_routes_and_subsets_the_rollout_names_exist_and_match_its_pods(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        rollout = _one(result, ROLLOUT, prefix)
        istio = rollout["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
        service = _one(result, SERVICE, prefix)
        host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
        port = service["spec"]["ports"][0]["port"]

        # The Rollout steers two VirtualServices of the workload: the mesh callers' (its
        # Service's host) and the edge delegate the ingress gateway hands its paths to.
        steered = {v["name"]: v["routes"] for v in istio["virtualServices"]}
        virtual_services = {v.inputs["metadata"]["name"]: v.inputs for v in _mine(result, VIRTUAL_SERVICE, prefix)}
        assert set(steered) == set(virtual_services) == {WEB, f"{WEB}-edge"}
        mesh, edge = virtual_services[WEB], virtual_services[f"{WEB}-edge"]
        assert mesh["spec"]["hosts"] == [host]
        assert "gateways" not in mesh["spec"]  # mesh callers
        # A delegate: no hosts, no gateways, exported to the gateway's namespace only.
        assert "hosts" not in edge["spec"] and "gateways" not in edge["spec"]
        assert edge["spec"]["exportTo"] == ["istio-ingress"]
        assert edge["metadata"]["namespace"] == mesh["metadata"]["namespace"] == service["metadata"]["namespace"]
        for name, spec in virtual_services.items():
            routes = {route["name"]: route for route in spec["spec"]["http"]}
            assert set(steered[name]) <= set(routes), name
        primary = {route["name"]: route for route in mesh["spec"]["http"]}[steered[WEB][0]]
        assert edge["spec"]["http"] == mesh["spec"]["http"]

        # The DestinationRule the Rollout names: same host, both subsets, the traffic policy kept.
        rule = _one(result, DESTINATION_RULE, prefix)
        reference = istio["destinationRule"]
        assert rule["metadata"]["name"] == reference["name"]
        assert rule["spec"]["host"] == host
        assert rule["spec"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
        assert rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5
        subsets = {subset["name"]: subset["labels"] for subset in rule["spec"]["subsets"]}
        assert {reference["stableSubsetName"], reference["canarySubsetName"]} == set(subsets)

        # Every subset selects pods of a version that exists: its labels are the template's
        # (Argo adds each ReplicaSet's hash, a label only the controller writes).
        pod_labels = rollout["spec"]["template"]["metadata"]["labels"]
        for name, labels in subsets.items():
            assert labels.items() <= pod_labels.items() and labels, name
            assert POD_TEMPLATE_HASH_LABEL not in labels

        # The weighted route: all to stable, none to canary, at the Service's host and port.
        assert primary["route"] == [
            {
                "destination": {"host": host, "subset": reference["stableSubsetName"], "port": {"number": port}},
                "weight": 100,
            },
            {
                "destination": {"host": host, "subset": reference["canarySubsetName"], "port": {"number": port}},
                "weight": 0,
            },
        ]


@pytest.mark.parametrize("stack", STACKS)
def test_pulumi_ignores_exactly_what_the_controller_rewrites(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = _cluster(stack, cluster)
        virtual_services = _mine(result, VIRTUAL_SERVICE, prefix)
        (rule,) = _mine(result, DESTINATION_RULE, prefix)
        (service,) = _mine(result, SERVICE, prefix)
        (rollout,) = _mine(result, ROLLOUT, prefix)
        assert len(virtual_services) == 2
        assert all(v.ignore_changes == ["spec.http"] for v in virtual_services)
        assert rule.ignore_changes == ["spec.subsets"]
        # Canary through subsets: the controller never touches the Service or the Rollout's spec.
        assert service.ignore_changes == [] and rollout.ignore_changes == []
        for workload in ROLLING[cluster]:
            (plain_rule,) = _mine(result, DESTINATION_RULE, prefix, workload)
            assert plain_rule.ignore_changes == [] and "subsets" not in plain_rule.inputs["spec"]
            assert _mine(result, VIRTUAL_SERVICE, prefix, workload) == []


# ---------------------------------------------------------------- the analysis


@pytest.mark.parametrize("stack", STACKS)
def test_the_analysis_template_queries_prometheus_with_the_heal7_targets(synthed, stack):
    template = _one(synthed(stack), ANALYSIS_TEMPLATE, _cluster(stack, "gke"))
    assert template["metadata"]["name"] == f"{WEB}-analysis"
    assert template["spec"]["args"] == [
        {"name": "canary-hash"},
        {"name": "prometheus-address", "value": DEFAULT_PROMETHEUS_ADDRESS},
    ]
    metrics = {metric["name"]: metric for metric in template["spec"]["metrics"]}
    assert set(metrics) == {"error-ratio", "p95-latency-ms"}
    assert metrics["error-ratio"]["successCondition"].endswith("result[0] < 0.01")
    assert metrics["p95-latency-ms"]["successCondition"].endswith("result[0] < 500")
    for metric in metrics.values():
        assert metric["provider"]["prometheus"]["address"] == "{{args.prometheus-address}}"
        assert metric["interval"] == "1m" and metric["failureLimit"] == 0
        # A canary's analysis runs in the background until the last step: no count.
        assert "count" not in metric
        query = metric["provider"]["prometheus"]["query"]
        assert query.count(f'pod=~"{WEB}-{{{{args.canary-hash}}}}-.*"') == query.count("reporter=")
        assert f'destination_workload_namespace="{_namespace(stack)}"' in query
        assert "[10m]" in query
    error_query = metrics["error-ratio"]["provider"]["prometheus"]["query"]
    assert error_query.count("istio_requests_total{") == 2 and 'response_code=~"5.."' in error_query
    latency_query = metrics["p95-latency-ms"]["provider"]["prometheus"]["query"]
    assert latency_query.startswith("histogram_quantile(0.95, sum by (le) (")
    assert "istio_request_duration_milliseconds_bucket{" in latency_query


def test_the_analysis_thresholds_and_window_come_from_config(custom_canary):
    template = _one(custom_canary, ANALYSIS_TEMPLATE, _cluster("staging", "eks"))
    metrics = {metric["name"]: metric for metric in template["spec"]["metrics"]}
    assert metrics["error-ratio"]["successCondition"] == ("len(result) == 0 || isNaN(result[0]) || result[0] < 0.02")
    assert metrics["p95-latency-ms"]["successCondition"] == ("len(result) == 0 || isNaN(result[0]) || result[0] < 300")
    for metric in metrics.values():
        query = metric["provider"]["prometheus"]["query"]
        assert "[5m]" in query and "[10m]" not in query


# ---------------------------------------------------------------- blueGreen


def test_blue_green_has_active_and_preview_services_selecting_the_workloads_pods(blue_green):
    for cluster in CLUSTERS:
        prefix = _cluster("staging", cluster)
        rollout = _one(blue_green, ROLLOUT, prefix)
        strategy = rollout["spec"]["strategy"]
        assert list(strategy) == ["blueGreen"]
        blue = strategy["blueGreen"]
        services = {r.inputs["metadata"]["name"]: r for r in _mine(blue_green, SERVICE, prefix)}
        assert set(services) == {blue["activeService"], blue["previewService"]} == {WEB, f"{WEB}-preview"}
        pod_labels = rollout["spec"]["template"]["metadata"]["labels"]
        for service in services.values():
            assert service.inputs["spec"]["selector"] == pod_labels
            assert service.inputs["spec"]["ports"] == [
                {"name": "http", "port": 3000, "targetPort": "http", "protocol": "TCP"}
            ]
            # The controller adds the served version's hash to the (atomic) selector.
            assert service.ignore_changes == ["spec.selector"]
        # A person promotes; the analysis then watches the real traffic for the window.
        assert blue["autoPromotionEnabled"] is False
        assert blue["postPromotionAnalysis"]["templates"] == [{"templateName": f"{WEB}-analysis"}]
        assert "scaleDownDelaySeconds" not in blue
        template = _one(blue_green, ANALYSIS_TEMPLATE, prefix)
        assert {metric["count"] for metric in template["spec"]["metrics"]} == {7}
        # No weights to steer: no VirtualService, no subsets; the HPA still follows the Rollout.
        assert _mine(blue_green, VIRTUAL_SERVICE, prefix) == []
        assert "subsets" not in _one(blue_green, DESTINATION_RULE, prefix)["spec"]
        assert _one(blue_green, HPA, prefix)["spec"]["scaleTargetRef"] == ROLLOUT_TARGET


# ---------------------------------------------------------------- refused config


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        (
            {"strategy": "canary", "canary": {"steps": [10, 50, 90]}},
            "platform:workloads.heal7-web-main.delivery.canary.steps: expected weights rising strictly to 100, "
            "got [10, 50, 90]",
        ),
        (
            {"strategy": "canary", "canary": {"steps": [50, 10, 100]}},
            "platform:workloads.heal7-web-main.delivery.canary.steps: expected weights rising strictly to 100",
        ),
        ({"strategy": "linear"}, "platform:workloads.heal7-web-main.delivery.strategy:"),
    ],
    ids=["not reaching 100", "not rising", "unknown strategy"],
)
def test_bad_delivery_config_is_refused_naming_file_and_key(delivery, expected):
    assert_rejected_before_any_resource("prod", _override("prod", **delivery), expected)


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        (Delivery(strategy="canary", steps=(10, 50)), "steps must rise strictly to 100, got [10, 50]"),
        (Delivery(strategy="canary", steps=(0, 100)), "steps must be percentages 1-100, got [0, 100]"),
        (Delivery(strategy="canary", analysis=Analysis(max_error_ratio=1.5)), "max_error_ratio must be between"),
    ],
)
def test_the_component_refuses_an_unusable_delivery(delivery, expected):
    assert any(problem.startswith(expected) for problem in delivery.problems())
