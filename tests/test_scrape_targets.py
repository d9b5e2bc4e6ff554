"""The monitoring's PodMonitors (components/kubernetes/_scrape_targets.py): valid against the
prometheus-operator CRD model with unknown fields refused, and scraping what the metric label
contract promises, shown by running the relabeling prometheus-operator v0.93 generates for a
PodMonitor (tests/prometheus_relabel.py) over pods as the pinned charts and AppDeployment
render them.
"""

import re
from typing import Any

import pytest
from cloudcoil.models.prometheus_operator import v1 as monitoring_v1

from components.kubernetes import _scrape_targets as scrape
from components.kubernetes._addon_values import load_balancer_controller_values, vertical_pod_autoscaler_values
from components.kubernetes._app_specs import pod_labels
from components.kubernetes.cert_manager import cert_manager_values
from components.kubernetes.external_secrets import external_secrets_values
from components.kubernetes.ingress_gateway import RELEASE as GATEWAY_RELEASE
from components.kubernetes.ingress_gateway import SELECTOR as GATEWAY_SELECTOR
from components.kubernetes.ingress_gateway import gateway_values
from components.kubernetes.istio_mesh import istiod_values
from components.kubernetes.progressive_delivery import argo_rollouts_values
from components.kubernetes.workload_namespace import DEFAULT_INGRESS_SOURCES, WORKLOAD_LABEL
from tests.conftest import STACKS
from tests.custom_resource_validation import strict_model_errors
from tests.network_paths import NETWORK_POLICY
from tests.prometheus_relabel import discovered, scraped

WORKLOAD_NAMESPACES = ["heal7-production", "email"]
EKS_ONLY = {"aws-load-balancer-controller", "vpa-recommender"}


def _targets(platform: scrape.Platform = "eks") -> dict[str, dict[str, Any]]:
    return scrape.scrape_targets(platform, WORKLOAD_NAMESPACES, {"release": "kube-prometheus-stack"})


# Pods as rendered: AppDeployment's workload (app container, the injected native sidecar), the
# gateway chart's pod (its only container is the proxy), istiod, a pod without a sidecar.
PROXY_PORTS = [(scrape.ENVOY_PROMETHEUS_PORT, 15090)]
WORKLOAD_POD = discovered(
    "email",
    "email-backend-6f7c9-x2x4q",
    "10.20.3.17",
    {**pod_labels("email-backend"), "rollouts-pod-template-hash": "6f7c9"},
    [("app", [("http", 8080)]), ("istio-proxy", PROXY_PORTS)],
)
GATEWAY_POD = discovered(
    "istio-ingress",
    "istio-ingressgateway-5d8b-k2l9p",
    "10.20.1.5",
    {**GATEWAY_SELECTOR, "sidecar.istio.io/inject": "true", "app.kubernetes.io/name": GATEWAY_RELEASE},
    [("istio-proxy", PROXY_PORTS)],
)
ISTIOD_POD = discovered(
    "istio-system",
    "istiod-7b5d-q8w2e",
    "10.20.2.9",
    {"app": "istiod", "istio": "pilot", "istio.io/rev": "default", "sidecar.istio.io/inject": "false"},
    [("discovery", [("http-debug", 8080), ("grpc-xds", 15010), ("tls-xds", 15012), ("http-monitoring", 15014)])],
)
UNINJECTED_POD = discovered("email", "migrate-abc", "10.20.3.40", {"app": "migrate"}, [("app", [("http", 8080)])])
FINISHED_POD = discovered(
    "email", "email-backend-old", "10.20.3.41", pod_labels("email-backend"), [("istio-proxy", PROXY_PORTS)], "Succeeded"
)
IPV6_POD = discovered(
    "heal7-production", "web-main-1", "fd00:10::17", pod_labels("web-main"), [("istio-proxy", PROXY_PORTS)]
)
# cert-manager v1.21.1's three Deployments (labels and ports of their templates).
CERT_MANAGER_PODS = [
    discovered(
        "cert-manager",
        f"{name}-1",
        f"10.20.4.{index}",
        {
            "app": app,
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/instance": "cert-manager",
            "app.kubernetes.io/component": component,
        },
        [(name, [("http-metrics", 9402), *extra])],
    )
    for index, (name, app, component, extra) in enumerate(
        [
            ("cert-manager-controller", "cert-manager", "controller", [("http-healthz", 9403)]),
            ("cert-manager-webhook", "webhook", "webhook", [("https", 10250), ("healthcheck", 6080)]),
            ("cert-manager-cainjector", "cainjector", "cainjector", []),
        ]
    )
]


def test_every_manifest_validates_strictly_against_the_crd_model() -> None:
    for platform in ("eks", "gke"):
        for role, manifest in _targets(platform).items():
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
            assert manifest["kind"] == "PodMonitor"
            assert strict_model_errors(monitoring_v1.PodMonitor, manifest) == [], (platform, role)


def test_the_strict_check_refuses_a_misspelt_field_and_a_bad_action() -> None:
    manifest = _targets()["istiod"]
    typo = {**manifest, "spec": {**manifest["spec"], "podMetricEndpoints": []}}
    assert "spec.podMetricEndpoints: unknown field" in strict_model_errors(monitoring_v1.PodMonitor, typo)
    (endpoint,) = manifest["spec"]["podMetricsEndpoints"]
    bad = {**endpoint, "relabelings": [{"action": "rename", "targetLabel": "job"}]}
    broken = {**manifest, "spec": {**manifest["spec"], "podMetricsEndpoints": [bad]}}
    assert any("action" in error for error in strict_model_errors(monitoring_v1.PodMonitor, broken))


def test_roles_per_platform_and_every_monitor_lives_in_monitoring_with_the_callers_labels() -> None:
    common = {
        "istio-proxies",
        "istiod",
        "istio-cni",
        "cert-manager",
        "cert-manager-webhook",
        "cert-manager-cainjector",
        "external-secrets",
        "external-secrets-webhook",
        "external-secrets-cert-controller",
        "argo-rollouts",
    }
    assert set(_targets("eks")) == common | EKS_ONLY
    # GKE runs Google's VPA and load balancing: no LBC or VPA chart to scrape.
    assert set(_targets("gke")) == common
    for role, manifest in _targets().items():
        assert manifest["metadata"] == {
            "name": role,
            "namespace": "monitoring",
            "labels": {"release": "kube-prometheus-stack"},
        }


def test_workload_proxies_carry_namespace_pod_service_and_job_of_their_app() -> None:
    monitor = _targets()["istio-proxies"]
    assert scraped(monitor, [WORKLOAD_POD, UNINJECTED_POD, FINISHED_POD, ISTIOD_POD]) == [
        {
            "__address__": "10.20.3.17:15020",
            "__metrics_path__": "/stats/prometheus",
            "__scheme__": "http",
            "namespace": "email",
            "pod": "email-backend-6f7c9-x2x4q",
            "container": "istio-proxy",
            "job": "email-backend",
            "service": "email-backend",
            "endpoint": "istio-merged-metrics",
        }
    ]


def test_gateway_proxies_are_job_and_service_istio_ingressgateway() -> None:
    (target,) = scraped(_targets("gke")["istio-proxies"], [GATEWAY_POD])
    assert target["__address__"] == "10.20.1.5:15020"
    assert (target["namespace"], target["job"], target["service"]) == (
        "istio-ingress",
        "istio-ingressgateway",
        "istio-ingressgateway",
    )


def test_an_ipv6_pod_is_scraped_on_its_bracketed_address() -> None:
    (target,) = scraped(_targets()["istio-proxies"], [IPV6_POD])
    assert target["__address__"] == "[fd00:10::17]:15020"
    assert target["job"] == target["service"] == "web-main"


def test_proxies_monitor_reaches_the_workload_namespaces_and_the_gateway_and_drops_no_series() -> None:
    spec = _targets()["istio-proxies"]["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["email", "heal7-production", "istio-ingress"]}
    assert spec["jobLabel"] == "app"
    (endpoint,) = spec["podMetricsEndpoints"]
    # istio_requests_total and the duration histograms reach the adapter and the rules whole:
    # no metric relabeling, and the target's labels win over an app's own job or service.
    assert "metricRelabelings" not in endpoint
    assert "honorLabels" not in endpoint
    # The label the contract names workloads by is AppDeployment's and the gateway chart's.
    assert pod_labels("x") == {scrape.APP_LABEL: "x"}
    assert GATEWAY_SELECTOR[scrape.APP_LABEL] == GATEWAY_RELEASE == "istio-ingressgateway"


def test_istiod_is_scraped_on_http_monitoring_15014() -> None:
    monitor = _targets()["istiod"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["istio-system"]}
    (target,) = scraped(monitor, [ISTIOD_POD, WORKLOAD_POD, GATEWAY_POD])
    assert target["__address__"] == "10.20.2.9:15014"
    assert (target["job"], target["service"], target["namespace"]) == ("istiod", "istiod", "istio-system")
    assert scrape.scraped_ports("gke")["istio-system"] == [15014]


def test_each_cert_manager_monitor_selects_its_own_deployment() -> None:
    pods = CERT_MANAGER_PODS
    for role, pod in zip(["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"], pods, strict=True):
        (target,) = scraped(_targets()[role], pods)
        assert target["pod"] == pod[0]["__meta_kubernetes_pod_name"]
        assert target["__address__"].endswith(":9402")
        assert target["job"] == target["service"] == role


def test_scraped_ports_per_namespace() -> None:
    assert scrape.scraped_ports("eks") == {
        "argo-rollouts": [8090],
        "cert-manager": [9402],
        "external-secrets": [8080],
        "istio-cni": [15014],
        "istio-ingress": [15020],
        "istio-system": [15014],
        "kube-system": [8080],
        "vertical-pod-autoscaler": [8942],
    }
    assert "kube-system" not in scrape.scraped_ports("gke")


def test_chart_values_keep_the_metrics_ports_the_monitors_select() -> None:
    """The charts' defaults declare the ports; nothing in the platform's values turns one off
    or moves it (keys checked in each chart's values.yaml at its pinned version)."""
    assert cert_manager_values(replicas=2, default_issuer="letsencrypt-production")["prometheus"].get("enabled", True)
    secrets = external_secrets_values(service_account_annotations={}, replicas=2)
    assert (
        "metrics" not in secrets and "metrics" not in secrets["webhook"] and "metrics" not in secrets["certController"]
    )
    assert "containerPorts" not in argo_rollouts_values(high_availability=True)["controller"]
    istiod = istiod_values(high_availability=True)
    assert "statusPort" not in istiod["global"]["proxy"]
    assert istiod["meshConfig"].get("enablePrometheusMerge", True)
    assert "podAnnotations" not in gateway_values(min_replicas=1, max_replicas=2)
    assert vertical_pod_autoscaler_values()["recommender"]["enabled"] is True
    assert "metricsBindAddr" not in load_balancer_controller_values("c", "eu-west-1", "vpc-1", "arn", 2)


@pytest.mark.parametrize(
    ("namespaces", "expected"),
    [
        (["Email"], "'Email' is not a DNS label"),
        (["email", "email"], "namespaces repeat"),
        (["istio-system"], "'istio-system' is a platform namespace"),
        (["monitoring"], "'monitoring' is a platform namespace"),
    ],
)
def test_bad_workload_namespaces_are_refused(namespaces: list[str], expected: str) -> None:
    with pytest.raises(ValueError, match=f"scrape_targets: workload namespaces: .*{re.escape(expected)}"):
        scrape.scrape_targets("eks", namespaces)


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="platform must be eks or gke, got 'aks'"):
        scrape.scrape_targets("aks", [])  # type: ignore[arg-type]


def _admits_monitoring(policies: list[dict[str, Any]], port: int) -> bool:
    """Whether a namespace's NetworkPolicies let the monitoring namespace connect on `port`
    to every pod: no Ingress policy at all, or an all-pods policy with a rule from it."""
    ingress = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", [])]
    if not ingress:
        return True
    monitoring = {"kubernetes.io/metadata.name": scrape.MONITORING_NAMESPACE}
    for policy in ingress:
        if policy["spec"].get("podSelector") not in ({}, None):
            continue
        for rule in policy["spec"].get("ingress") or []:
            peers = [p for p in rule.get("from", []) if not p.get("podSelector") and "ipBlock" not in p]
            from_monitoring = any(p.get("namespaceSelector", {}).get("matchLabels") == monitoring for p in peers)
            ports = {int(p["port"]) for p in rule.get("ports", [])}
            if from_monitoring and (not ports or port in ports):
                return True
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_network_policies_admit_prometheus_to_every_target(synthed, stack: str) -> None:
    result = synthed(stack)
    assert scrape.MONITORING_NAMESPACE in DEFAULT_INGRESS_SOURCES
    providers = [p for p in result.of_type("pulumi:providers:kubernetes")]
    assert len(providers) == 2
    for provider in providers:
        platform: scrape.Platform = "eks" if "-eks-" in provider.name else "gke"
        namespaces = [
            r.inputs["metadata"] for r in result.of_type("kubernetes:core/v1:Namespace") if r.provider == provider.urn
        ]
        workloads = [m["name"] for m in namespaces if m.get("labels", {}).get(WORKLOAD_LABEL) == "true"]
        assert workloads, provider.name
        policies = [r.inputs for r in result.of_type(NETWORK_POLICY) if r.provider == provider.urn]
        # The workload namespaces have default-deny: the check below is not vacuous there.
        assert {p["metadata"]["namespace"] for p in policies} >= set(workloads)
        wanted = {**scrape.scraped_ports(platform), **{name: [scrape.ISTIO_STATUS_PORT] for name in workloads}}
        assert set(
            scrape.scrape_targets(platform, workloads)["istio-proxies"]["spec"]["namespaceSelector"]["matchNames"]
        ) <= set(wanted)
        for namespace, ports in wanted.items():
            own = [p for p in policies if p["metadata"]["namespace"] == namespace]
            for port in ports:
                assert _admits_monitoring(own, port), (provider.name, namespace, port)
