"""What Prometheus scrapes on a cluster: Prometheus-operator PodMonitors as plain manifests.

Pure functions: MonitoringStack registers each manifest (`scrape_targets`) as a
`kubernetes.apiextensions.CustomResource` in the `monitoring` namespace; each reaches the
namespace it scrapes through `spec.namespaceSelector.matchNames`. Field names are
monitoring.coreos.com/v1 as prometheus-operator v0.93.1 serves them (kube-prometheus-stack
88.5.3's CRDs); every field used here is also in v0.80.1, which the tests' strict model knows.

PodMonitors, not ServiceMonitors: they select the pods by the labels the pinned charts
render and by the charts' named container ports, so no chart needs a metrics Service or a
value changed. What each target is, checked against its pinned chart (`_charts.py`):

- Every Istio proxy (workload sidecars and the ingress gateway's pods): the merged endpoint
  `:15020/stats/prometheus` of the proxy's agent (Istio's metrics merging: Envoy's and the
  agent's metrics, plus the app's own when the pod's `prometheus.io/port` and `path`
  annotations name them; the injector moves those into the agent's environment). 15020 is
  the status port, not a declared containerPort (the injection templates declare only
  15090 `http-envoy-prom`), and the operator's `portNumber` only keeps declared ports; so
  the monitor keeps the one target per pod of `http-envoy-prom` and rewrites its address
  to the pod's IP and 15020. The injector excludes the status port from inbound
  redirection (`excludeInboundPorts`, which the CNI agent applies), so plain HTTP reaches
  the agent under STRICT mTLS, from a Prometheus outside the mesh.
- istiod (`http-monitoring`, 15014), the Istio CNI agent (`metrics`, 15014), cert-manager's
  controller, webhook and cainjector (`http-metrics`, 9402: `prometheus.enabled` is the
  chart's default), External Secrets' operator, webhook and cert-controller (`metrics`,
  8080), the Argo Rollouts controller (`metrics`, 8090: declared whatever
  `controller.metrics.enabled` says, which only adds a Service), and on EKS the AWS Load
  Balancer Controller (`metrics-server`, 8080) and the VPA recommender (`prometheus`, 8942).
- Not metrics-server: its only endpoint is the HTTPS API port with a self-signed
  certificate, whose /metrics needs an authorized bearer token (or the chart's
  `metrics.enabled`, which opens it to anonymous callers). What the HPAs depend on, its
  APIService being available, kube-prometheus-stack's apiserver rules already watch.

Labels (the metric label contract): every series has `namespace` and `pod` (the operator
sets them), `job` and `service`. Proxies: both are the pod's `app` label, the workload's
name (AppDeployment) or `istio-ingressgateway` (the gateway chart's `app`); add-ons: the
role's fixed job name. `honorLabels` stays false, so an app's own `job` or `service` label
never replaces the target's.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from components.kubernetes import (
    cert_manager,
    cluster_addons,
    external_secrets,
    ingress_gateway,
    istio_mesh,
    progressive_delivery,
)

API_VERSION = "monitoring.coreos.com/v1"
MONITORING_NAMESPACE = "monitoring"
"""Where Prometheus runs and the PodMonitors live (not mesh-injected)."""
APP_LABEL = "app"
"""The pod label naming a workload (AppDeployment's `pod_labels`) and the gateway (its chart's)."""
# Istio's pilot-agent status port (istio-discovery values.yaml `global.proxy.statusPort`,
# unchanged by istiod_values) and the merged metrics path it serves there.
ISTIO_STATUS_PORT = 15020
MERGED_METRICS_PATH = "/stats/prometheus"
# The one port the injection templates (sidecar and gateway) declare on istio-proxy: one
# target per injected pod, whose address is then rewritten to the status port.
ENVOY_PROMETHEUS_PORT = "http-envoy-prom"
PROXIES_ROLE = "istio-proxies"
PROXIES_ENDPOINT_LABEL = "istio-merged-metrics"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

Platform = Literal["eks", "gke"]


@dataclass(frozen=True)
class AddonTarget:
    """One add-on's metrics endpoint, as its pinned chart renders the pods."""

    job: str
    """Required: the `job` and `service` label of its series; also the PodMonitor's name and role."""
    namespace: str
    """Required: the namespace the component installs the chart in."""
    pod_labels: dict[str, str]
    """Required: labels the chart puts on exactly these pods (release and component)."""
    port: str
    """Required: the name of the chart's metrics containerPort."""
    port_number: int
    """Required: that port's number in the chart (for network policies and the README)."""
    platforms: tuple[Platform, ...] = ("eks", "gke")
    """The clusters that run it. Default both."""
    path: str = "/metrics"
    """The HTTP path. Default /metrics (every chart here)."""


def _release(name: str, release: str, component: str | None = None) -> dict[str, str]:
    """The `app.kubernetes.io` selector labels charts render from their name and release."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
    return {**labels, "app.kubernetes.io/component": component} if component else labels


# Each entry checked against its chart's Deployment/DaemonSet template at the pinned tag.
ADDON_TARGETS: tuple[AddonTarget, ...] = (
    # istio-discovery deployment.yaml: pod label `app: istiod`, port http-monitoring 15014.
    AddonTarget("istiod", istio_mesh.ROOT_NAMESPACE, {"app": "istiod"}, "http-monitoring", 15014),
    # istio-cni daemonset.yaml: `k8s-app: istio-cni-node`, port metrics 15014 (not host network: ambient is off).
    AddonTarget("istio-cni", istio_mesh.CNI_NAMESPACE, {"k8s-app": "istio-cni-node"}, "metrics", 15014),
    # cert-manager deployment.yaml, webhook-deployment.yaml, cainjector-deployment.yaml.
    *(
        AddonTarget(
            job,
            cert_manager.NAMESPACE,
            {"app.kubernetes.io/instance": cert_manager.RELEASE, "app.kubernetes.io/component": component},
            "http-metrics",
            9402,
        )
        for job, component in (
            ("cert-manager", "controller"),
            ("cert-manager-webhook", "webhook"),
            ("cert-manager-cainjector", "cainjector"),
        )
    ),
    # external-secrets _helpers.tpl selectorLabels: name external-secrets[-webhook|-cert-controller].
    *(
        AddonTarget(job, external_secrets.NAMESPACE, _release(job, external_secrets.RELEASE), "metrics", 8080)
        for job in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller")
    ),
    # argo-rollouts controller/deployment.yaml: component rollouts-controller, port metrics 8090.
    AddonTarget(
        "argo-rollouts",
        progressive_delivery.NAMESPACE,
        _release("argo-rollouts", progressive_delivery.RELEASE, "rollouts-controller"),
        "metrics",
        8090,
    ),
    # aws-load-balancer-controller helm/templates/deployment.yaml: port metrics-server 8080.
    AddonTarget(
        "aws-load-balancer-controller",
        cluster_addons.KUBE_SYSTEM,
        _release("aws-load-balancer-controller", cluster_addons.LOAD_BALANCER_CONTROLLER_RELEASE),
        "metrics-server",
        8080,
        platforms=("eks",),
    ),
    # vertical-pod-autoscaler recommender-deployment.yaml: component recommender, port prometheus 8942.
    AddonTarget(
        "vpa-recommender",
        cluster_addons.VPA_NAMESPACE,
        _release("vertical-pod-autoscaler", cluster_addons.VPA_RELEASE, "recommender"),
        "prometheus",
        8942,
        platforms=("eks",),
    ),
)


def _metadata(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": MONITORING_NAMESPACE, "labels": dict(labels)}


def _fixed(label: str, value: str) -> dict[str, Any]:
    """A relabeling that sets `label` to `value` on every target."""
    return {"action": "replace", "targetLabel": label, "replacement": value}


def istio_proxies_monitor(workload_namespaces: Sequence[str], labels: Mapping[str, str]) -> dict[str, Any]:
    """The PodMonitor of every Istio proxy: the workload namespaces' sidecars and the gateway."""
    namespaces = sorted({*workload_namespaces, ingress_gateway.NAMESPACE})
    status_address = [
        # The pod's IP with the status port; IPv6 addresses in brackets (Prometheus anchors
        # each regex, so exactly one of the two matches).
        {
            "action": "replace",
            "sourceLabels": ["__meta_kubernetes_pod_ip"],
            "regex": r"(\d+\.\d+\.\d+\.\d+)",
            "targetLabel": "__address__",
            "replacement": f"$1:{ISTIO_STATUS_PORT}",
        },
        {
            "action": "replace",
            "sourceLabels": ["__meta_kubernetes_pod_ip"],
            "regex": "(.*:.*)",
            "targetLabel": "__address__",
            "replacement": f"[$1]:{ISTIO_STATUS_PORT}",
        },
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": _metadata(PROXIES_ROLE, labels),
        "spec": {
            # job = the pod's `app` label (the workload, or istio-ingressgateway).
            "jobLabel": APP_LABEL,
            "namespaceSelector": {"matchNames": namespaces},
            # Every pod there; the port below keeps only those with a proxy.
            "selector": {},
            "podMetricsEndpoints": [
                {
                    "port": ENVOY_PROMETHEUS_PORT,
                    "path": MERGED_METRICS_PATH,
                    "scheme": "http",
                    "relabelings": [
                        *status_address,
                        {
                            "action": "replace",
                            "sourceLabels": [f"__meta_kubernetes_pod_label_{APP_LABEL}"],
                            "regex": "(.+)",
                            "targetLabel": "service",
                            "replacement": "$1",
                        },
                        # The operator names the endpoint after the selected port (15090's).
                        _fixed("endpoint", PROXIES_ENDPOINT_LABEL),
                    ],
                }
            ],
        },
    }


def addon_monitor(target: AddonTarget, labels: Mapping[str, str]) -> dict[str, Any]:
    """The PodMonitor of one add-on's pods in its own namespace."""
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": _metadata(target.job, labels),
        "spec": {
            "namespaceSelector": {"matchNames": [target.namespace]},
            "selector": {"matchLabels": dict(target.pod_labels)},
            "podMetricsEndpoints": [
                {
                    "port": target.port,
                    "path": target.path,
                    "scheme": "http",
                    "relabelings": [_fixed("job", target.job), _fixed("service", target.job)],
                }
            ],
        },
    }


def addon_targets(platform: Platform) -> tuple[AddonTarget, ...]:
    """The add-on targets of one cluster: GKE runs no LBC and Google's own VPA."""
    _check_platform(platform)
    return tuple(target for target in ADDON_TARGETS if platform in target.platforms)


def scrape_targets(
    platform: Platform, workload_namespaces: Sequence[str], labels: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Role -> PodMonitor manifest for one cluster. `workload_namespaces` are the namespaces
    whose injected pods are scraped (the gateway's is added); `labels` go on every
    PodMonitor (the label Prometheus' podMonitorSelector matches). Roles are stable keys
    for child resource names and equal each PodMonitor's name."""
    _check_platform(platform)
    problems = [f"{name!r} is not a DNS label" for name in workload_namespaces if not DNS_LABEL.match(name)]
    if len(set(workload_namespaces)) != len(workload_namespaces):
        problems.append(f"namespaces repeat: {sorted(workload_namespaces)}")
    platform_namespaces = {MONITORING_NAMESPACE, *(target.namespace for target in ADDON_TARGETS)}
    problems += [f"{name!r} is a platform namespace" for name in workload_namespaces if name in platform_namespaces]
    if problems:
        raise ValueError("scrape_targets: workload namespaces: " + "; ".join(problems))
    given = dict(labels or {})
    monitors = {PROXIES_ROLE: istio_proxies_monitor(workload_namespaces, given)}
    monitors.update((target.job, addon_monitor(target, given)) for target in addon_targets(platform))
    return monitors


def scraped_ports(platform: Platform) -> dict[str, list[int]]:
    """Namespace -> TCP ports Prometheus connects to there (for a `monitoring` egress policy).
    The proxies' namespaces are the workload namespaces plus the gateway's, all on 15020."""
    ports: dict[str, set[int]] = {ingress_gateway.NAMESPACE: {ISTIO_STATUS_PORT}}
    for target in addon_targets(platform):
        ports.setdefault(target.namespace, set()).add(target.port_number)
    return {namespace: sorted(numbers) for namespace, numbers in sorted(ports.items())}


def _check_platform(platform: str) -> None:
    if platform not in ("eks", "gke"):
        raise ValueError(f"scrape_targets: platform must be eks or gke, got {platform!r}")
