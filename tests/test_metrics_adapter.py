"""prometheus-adapter: the one custom metric the HPAs ask for, served from the mesh's request
counter, and nothing that would take metrics.k8s.io from metrics-server; its APIService verified
through cert-manager; HA with the tier; restricted Pod Security; counted by `make plan`."""

import re

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from components.kubernetes import _charts
from components.kubernetes._app_specs import REQUESTS_PER_SECOND_METRIC, Autoscaling, hpa_spec
from components.kubernetes.metrics_adapter import MetricsAdapter, MetricsAdapterArgs
from policy.rules.k8s_charts import TRUSTED_REPOSITORIES
from tools import manifests
from tools.chart_pods import chart_pods
from tools.synth import SynthError, SynthResult, synth_component

CHART = "kubernetes:helm.sh/v4:Chart"
CLUSTER = "heal7-test-eks"


def _synth(args: MetricsAdapterArgs | None = None, *, after: bool = False) -> SynthResult:
    def build(p):
        provider = kubernetes.Provider(f"{CLUSTER}-k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(provider=provider)
        given = args or MetricsAdapterArgs(namespace="monitoring")
        if after:
            # Stands in for cert-manager: the chart must wait for what the caller names.
            given.after = [kubernetes.core.v1.ConfigMap("cert-manager-stand-in", data={"a": "b"}, opts=opts)]
        adapter = MetricsAdapter("heal7-test-eks-metrics-adapter", given, opts)
        return {"metric": adapter.metric_name}

    return synth_component(build)


def _values(result: SynthResult) -> dict:
    return result.one(CHART, "heal7-test-eks-metrics-adapter-chart").inputs["values"]


def test_the_chart_is_pinned_trusted_and_in_the_given_namespace():
    result = _synth()
    inputs = result.one(CHART, "heal7-test-eks-metrics-adapter-chart").inputs
    assert (inputs["repositoryOpts"]["repo"], inputs["chart"], inputs["version"]) == (
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-adapter",
        "5.3.0",
    )
    assert inputs["repositoryOpts"]["repo"] in TRUSTED_REPOSITORIES
    assert inputs["namespace"] == "monitoring" and inputs["name"] == "prometheus-adapter"
    assert result.outputs["metric"] == REQUESTS_PER_SECOND_METRIC
    # Registered under the component.
    component = result.one("platform:kubernetes:MetricsAdapter")
    assert result.one(CHART).parent == component.urn


def test_the_one_rule_serves_the_metric_the_hpas_ask_for_from_destination_requests():
    values = _values(_synth())
    rules = values["rules"]
    (rule,) = rules["custom"]
    # The HPA's Pods metric (its name and AverageValue target) is what the rule exposes.
    pods_metric = next(m for m in hpa_spec({}, Autoscaling(1, 2))["metrics"] if m["type"] == "Pods")["pods"]
    assert pods_metric["metric"]["name"] == rule["name"]["as"] == "requests_per_second"
    assert pods_metric["target"]["type"] == "AverageValue"
    assert rule["seriesQuery"] == 'istio_requests_total{reporter="destination",namespace!="",pod!=""}'
    assert rule["name"]["matches"] == "^istio_requests_total$"
    assert rule["resources"] == {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}}
    # A per-pod rate over the stated window; the reporter repeated (LabelMatchers carries only
    # namespace and pod), so a pod's outgoing requests never count as its load.
    assert rule["metricsQuery"] == (
        'sum(rate(<<.Series>>{<<.LabelMatchers>>,reporter="destination"}[2m])) by (<<.GroupBy>>)'
    )


def test_nothing_but_the_custom_metrics_api_is_served():
    rules = _values(_synth())["rules"]
    # No resource rules: the chart then renders neither the metrics.k8s.io APIService nor its
    # ClusterRole, and metrics-server keeps the resource metrics API.
    assert "resource" not in rules
    # No external rules (no external.metrics.k8s.io APIService), no catch-all default rules.
    assert rules["external"] == [] and rules["default"] is False
    assert set(rules) == {"default", "custom", "external"}


def test_the_api_service_is_verified_through_cert_manager():
    values = _values(_synth())
    # certManager.enabled: the chart's CA and serving Certificates, cainjector fills caBundle,
    # and the APIService loses insecureSkipTLSVerify; no key material in the values (tls off).
    assert values["certManager"] == {"enabled": True}
    assert "tls" not in values


def test_the_chart_waits_for_what_the_caller_names():
    result = _synth(after=True)
    stand_in = result.one("kubernetes:core/v1:ConfigMap", "cert-manager-stand-in")
    assert stand_in.urn in result.one(CHART).dependencies


@pytest.mark.parametrize(("highly_available", "replicas"), [(False, 1), (True, 2)])
def test_replicas_pdb_and_zone_spread_follow_high_availability(highly_available, replicas):
    result = _synth(MetricsAdapterArgs(namespace="monitoring", high_availability=highly_available))
    values = _values(result)
    assert values["replicas"] == replicas
    assert values["podDisruptionBudget"] == {"enabled": highly_available, "maxUnavailable": 1}
    spread = values.get("topologySpreadConstraints", [])
    assert [c["topologyKey"] for c in spread] == (["topology.kubernetes.io/zone"] if highly_available else [])
    if highly_available:
        assert spread[0]["labelSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "prometheus-adapter",
            "app.kubernetes.io/instance": "prometheus-adapter",
        }
    # `make plan` counts the pods at this replica count with these requests.
    (chart,) = manifests.collect(result)[CLUSTER].charts
    (pod,) = chart_pods(chart)
    assert (pod.name, pod.replicas, pod.requests.cpu_m, pod.requests.memory_mib) == (
        "prometheus-adapter",
        replicas,
        50,
        128,
    )


def test_the_pods_meet_restricted_pod_security_and_stay_out_of_the_mesh():
    values = _values(_synth())
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
    assert container["runAsNonRoot"] is True and container["runAsUser"] == 10001
    assert container["readOnlyRootFilesystem"] is True
    assert values["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    # The API server calls it from outside the mesh.
    assert values["podLabels"] == {"sidecar.istio.io/inject": "false"}


def test_prometheus_is_the_given_one():
    values = _values(_synth(MetricsAdapterArgs(namespace="m", prometheus_url="http://p.m.svc", prometheus_port=9091)))
    assert values["prometheus"] == {"url": "http://p.m.svc", "port": 9091, "path": ""}
    default = _values(_synth())["prometheus"]
    assert (default["url"], default["port"]) == ("http://prometheus-operated.monitoring.svc", 9090)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_window": "30s"}, "rate_window must be a Prometheus duration of at least 1m"),
        ({"rate_window": "two minutes"}, "rate_window must be"),
        ({"prometheus_url": "http://prometheus:9090"}, "prometheus_url must be http(s)://host without a port"),
        ({"prometheus_port": 0}, "prometheus_port must be 1-65535"),
    ],
)
def test_bad_arguments_are_refused_before_anything_registers(changes, message):
    with pytest.raises(SynthError, match=re.escape(message)) as caught:
        _synth(MetricsAdapterArgs(namespace="monitoring", **changes))
    assert caught.value.result.of_type(CHART) == []
    assert caught.value.result.of_type("platform:kubernetes:MetricsAdapter") == []
    # The chart is pinned once, in _charts.
    assert _charts.PROMETHEUS_ADAPTER.version == "5.3.0"
