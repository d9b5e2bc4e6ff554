"""The pods of the Helm charts the program installs, and what each requests.

`chart_pods(chart)` reads a chart registration (tools/manifests.py) the way Helm renders it:
the chart's own defaults (below, read from the pinned chart's values.yaml) with the values the
program passes laid over them. Deployments count at their maximum: an add-on that
autoscales (istiod, the ingress gateway) at its HPA's maxReplicas. A chart missing here, or
at a version other than the one its defaults were read from, is an error: the plan cannot
say what it requests. `sidecar_requests(charts)` is the Istio proxy every workload pod gets
(istiod's global.proxy.resources).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stacks.config.tiers import deep_merge
from tools.manifests import HelmChart
from tools.system_pods import Requests, SystemPod, SystemPodsError, daemonset, deployment, requests_of


@dataclass(frozen=True)
class ChartDefaults:
    version: str
    """The chart version whose values.yaml the defaults were read from."""
    source: str
    defaults: dict[str, Any]
    """The defaults that decide its pods' count and requests (values.yaml's own keys)."""
    pods: Callable[[Mapping[str, Any]], list[SystemPod]]
    """Its pods, from the merged values."""


ISTIO = "istio/istio release-1.31 manifests/charts/{}/values.yaml (_internal_defaults_do_not_set), chart 1.31.4"
# Istio's charts nest their defaults under `_internal_defaults_do_not_set`; users set the same
# keys at the top level, which is how the program passes them.
ISTIOD_DEFAULTS = {
    "autoscaleEnabled": True,
    "autoscaleMax": 5,
    "replicaCount": 1,
    "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}},
    "global": {"proxy": {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}},
}


def _istiod(values: Mapping[str, Any]) -> list[SystemPod]:
    replicas = values["autoscaleMax"] if values["autoscaleEnabled"] else values["replicaCount"]
    source = ISTIO.format("istio-control/istio-discovery")
    return [deployment("istiod", requests_of(values["resources"]), replicas, source)]


def _gateway(values: Mapping[str, Any]) -> list[SystemPod]:
    autoscaling = values["autoscaling"]
    replicas = autoscaling["maxReplicas"] if autoscaling["enabled"] else values["replicaCount"]
    return [deployment("istio-ingressgateway", requests_of(values["resources"]), replicas, ISTIO.format("gateway"))]


def _cni(values: Mapping[str, Any]) -> list[SystemPod]:
    return [daemonset("istio-cni-node", requests_of(values["resources"]), ISTIO.format("istio-cni"))]


def _cert_manager(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "cert-manager/cert-manager v1.21.1 deploy/charts/cert-manager/values.yaml"
    pods = [
        deployment("cert-manager", requests_of(values["resources"]), values["replicaCount"], source),
        deployment(
            "cert-manager-webhook",
            requests_of(values["webhook"]["resources"]),
            values["webhook"]["replicaCount"],
            source,
        ),
    ]
    if values["cainjector"]["enabled"]:
        cainjector = values["cainjector"]
        pods.append(
            deployment(
                "cert-manager-cainjector", requests_of(cainjector["resources"]), cainjector["replicaCount"], source
            )
        )
    # startupapicheck is a post-install Job: it holds nothing once it has run.
    return pods


def _external_secrets(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "external-secrets/external-secrets v2.9.0 deploy/charts/external-secrets/values.yaml"
    pods = [deployment("external-secrets", requests_of(values["resources"]), values["replicaCount"], source)]
    for part in ("webhook", "certController"):
        if values[part]["create"]:
            pods.append(
                deployment(
                    f"external-secrets-{part}",
                    requests_of(values[part]["resources"]),
                    values[part]["replicaCount"],
                    source,
                )
            )
    return pods


def _load_balancer_controller(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "aws/eks-charts stable/aws-load-balancer-controller/values.yaml (chart 3.5.0: resources {})"
    return [
        deployment("aws-load-balancer-controller", requests_of(values["resources"]), values["replicaCount"], source)
    ]


def _metrics_server(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "kubernetes-sigs/metrics-server metrics-server-helm-chart-3.13.1 charts/metrics-server/values.yaml"
    return [deployment("metrics-server", requests_of(values["resources"]), values["replicas"], source)]


def _vertical_pod_autoscaler(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "kubernetes/autoscaler vertical-pod-autoscaler-chart-0.11.0 charts/vertical-pod-autoscaler/values.yaml"
    return [
        deployment(f"vpa-{part}", requests_of(values[part]["resources"]), values[part]["replicas"], source)
        for part in ("recommender", "updater", "admissionController")
        if values[part]["enabled"]
    ]


def _argo_rollouts(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "argoproj/argo-helm charts/argo-rollouts/values.yaml (chart 2.41.0)"
    pods = [
        deployment(
            "argo-rollouts", requests_of(values["controller"]["resources"]), values["controller"]["replicas"], source
        )
    ]
    if values["dashboard"]["enabled"]:
        dashboard = values["dashboard"]
        pods.append(
            deployment("argo-rollouts-dashboard", requests_of(dashboard["resources"]), dashboard["replicas"], source)
        )
    return pods


PROMETHEUS_COMMUNITY = "prometheus-community/helm-charts tag {0}-{1} charts/{0}/values.yaml"


def _single_deployment(chart: str, version: str, pod: str, replicas_key: str) -> Callable[..., list[SystemPod]]:
    """A chart whose only pods are one Deployment's, `replicas_key` of them, each `resources`."""
    source = PROMETHEUS_COMMUNITY.format(chart, version)
    return lambda values: [deployment(pod, requests_of(values["resources"]), values[replicas_key], source)]


def _kube_prometheus_stack(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "prometheus-community/helm-charts charts/kube-prometheus-stack/values.yaml (chart 88.5.3)"
    prometheus = values["prometheus"]["prometheusSpec"]
    alertmanager = values["alertmanager"]["alertmanagerSpec"]
    # Prometheus and Alertmanager are StatefulSets the operator creates from these values;
    # the config reloader beside each requests nothing by default.
    return [
        deployment("prometheus", requests_of(prometheus["resources"]), prometheus["replicas"], source),
        deployment("alertmanager", requests_of(alertmanager["resources"]), alertmanager["replicas"], source),
        deployment("prometheus-operator", requests_of(values["prometheusOperator"]["resources"]), 1, source),
        deployment("grafana", requests_of(values["grafana"]["resources"]), values["grafana"]["replicas"], source),
        deployment(
            "kube-state-metrics",
            requests_of(values["kube-state-metrics"]["resources"]),
            values["kube-state-metrics"]["replicas"],
            source,
        ),
        daemonset("node-exporter", requests_of(values["prometheus-node-exporter"]["resources"]), source),
    ]


def _eck_operator(values: Mapping[str, Any]) -> list[SystemPod]:
    # A StatefulSet of replicaCount pods on the general pool: counted as a Deployment is.
    source = "elastic/cloud-on-k8s v3.5.0 deploy/eck-operator/values.yaml"
    return [deployment("elastic-operator", requests_of(values["resources"]), values["replicaCount"], source)]


def _fluent_bit(values: Mapping[str, Any]) -> list[SystemPod]:
    source = "fluent/helm-charts fluent-bit-0.58.1 charts/fluent-bit/values.yaml"
    if values["kind"] == "DaemonSet":
        return [daemonset("fluent-bit", requests_of(values["resources"]), source)]
    return [deployment("fluent-bit", requests_of(values["resources"]), values["replicaCount"], source)]


CHART_DEFAULTS: dict[str, ChartDefaults] = {
    "kube-prometheus-stack": ChartDefaults(
        "88.5.3",
        "kube-prometheus-stack 88.5.3 values.yaml (grafana 12.11.1, kube-state-metrics 8.4.0, node-exporter 4.56.1)",
        {
            "prometheus": {"prometheusSpec": {"replicas": 1, "resources": {}}},
            "alertmanager": {"alertmanagerSpec": {"replicas": 1, "resources": {}}},
            "prometheusOperator": {"resources": {}},
            "grafana": {"replicas": 1, "resources": {}},
            "kube-state-metrics": {"replicas": 1, "resources": {}},
            "prometheus-node-exporter": {"resources": {}},
        },
        _kube_prometheus_stack,
    ),
    # CRDs and the validating webhook's configuration only: no pods.
    "base": ChartDefaults("1.31.4", ISTIO.format("base"), {}, lambda values: []),
    "istiod": ChartDefaults("1.31.4", ISTIO.format("istio-control/istio-discovery"), ISTIOD_DEFAULTS, _istiod),
    "gateway": ChartDefaults(
        "1.31.4",
        ISTIO.format("gateway"),
        {
            "replicaCount": 1,
            "autoscaling": {"enabled": True, "maxReplicas": 5},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        },
        _gateway,
    ),
    "cni": ChartDefaults(
        "1.31.4", ISTIO.format("istio-cni"), {"resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}, _cni
    ),
    "cert-manager": ChartDefaults(
        "v1.21.1",
        "cert-manager v1.21.1 values.yaml",
        {
            "replicaCount": 1,
            "resources": {},
            "webhook": {"replicaCount": 1, "resources": {}},
            "cainjector": {"enabled": True, "replicaCount": 1, "resources": {}},
        },
        _cert_manager,
    ),
    "external-secrets": ChartDefaults(
        "2.9.0",
        "external-secrets 2.9.0 values.yaml",
        {
            "replicaCount": 1,
            "resources": {},
            "webhook": {"create": True, "replicaCount": 1, "resources": {}},
            "certController": {"create": True, "replicaCount": 1, "resources": {}},
        },
        _external_secrets,
    ),
    "aws-load-balancer-controller": ChartDefaults(
        "3.5.0",
        "aws-load-balancer-controller 3.5.0 values.yaml",
        {"replicaCount": 2, "resources": {}},
        _load_balancer_controller,
    ),
    "metrics-server": ChartDefaults(
        "3.13.1",
        "metrics-server 3.13.1 values.yaml",
        {"replicas": 1, "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}}},
        _metrics_server,
    ),
    "vertical-pod-autoscaler": ChartDefaults(
        "0.11.0",
        "vertical-pod-autoscaler 0.11.0 values.yaml",
        {
            part: {"enabled": True, "replicas": 2, "resources": {}}
            for part in ("recommender", "updater", "admissionController")
        },
        _vertical_pod_autoscaler,
    ),
    "argo-rollouts": ChartDefaults(
        "2.41.0",
        "argo-rollouts 2.41.0 values.yaml",
        {
            "controller": {"replicas": 2, "resources": {}},
            "dashboard": {"enabled": False, "replicas": 1, "resources": {}},
        },
        _argo_rollouts,
    ),
    # prometheus-community charts: one Deployment each; replicas and resources from values.yaml
    # (resources {} in all three: no requests unless the program sets them).
    "prometheus-adapter": ChartDefaults(
        "5.3.0",
        PROMETHEUS_COMMUNITY.format("prometheus-adapter", "5.3.0"),
        {"replicas": 1, "resources": {}},
        _single_deployment("prometheus-adapter", "5.3.0", "prometheus-adapter", "replicas"),
    ),
    "prometheus-postgres-exporter": ChartDefaults(
        "8.2.0",
        PROMETHEUS_COMMUNITY.format("prometheus-postgres-exporter", "8.2.0"),
        {"replicaCount": 1, "resources": {}},
        _single_deployment("prometheus-postgres-exporter", "8.2.0", "postgres-exporter", "replicaCount"),
    ),
    "prometheus-redis-exporter": ChartDefaults(
        "6.29.0",
        PROMETHEUS_COMMUNITY.format("prometheus-redis-exporter", "6.29.0"),
        {"replicaCount": 1, "resources": {}},
        _single_deployment("prometheus-redis-exporter", "6.29.0", "redis-exporter", "replicaCount"),
    ),
    # The operator only: the Elasticsearch and Kibana pods it runs come from custom resources,
    # not from the chart's values.
    "eck-operator": ChartDefaults(
        "3.5.0",
        "eck-operator 3.5.0 values.yaml",
        {"replicaCount": 1, "resources": {"requests": {"cpu": "100m", "memory": "150Mi"}}},
        _eck_operator,
    ),
    "fluent-bit": ChartDefaults(
        "0.58.1",
        "fluent-bit 0.58.1 values.yaml",
        {"kind": "DaemonSet", "replicaCount": 1, "resources": {}},
        _fluent_bit,
    ),
}


def chart_values(chart: HelmChart) -> dict[str, Any]:
    """The chart's recorded defaults with the program's values laid over them (Helm's merge)."""
    known = CHART_DEFAULTS.get(chart.chart)
    if known is None:
        raise SystemPodsError(
            f"tools/system_pods.py: no pod requests recorded for chart {chart.chart!r} on {chart.cluster}; "
            "add its defaults to CHART_DEFAULTS from its values.yaml"
        )
    if chart.version != known.version:
        raise SystemPodsError(
            f"tools/system_pods.py: chart {chart.chart!r} on {chart.cluster} is version {chart.version}, its "
            f"defaults were read from {known.version}; re-read its values.yaml and update CHART_DEFAULTS"
        )
    return deep_merge(known.defaults, chart.values)


def chart_pods(chart: HelmChart) -> list[SystemPod]:
    return CHART_DEFAULTS[chart.chart].pods(chart_values(chart))


def sidecar_requests(charts: list[HelmChart]) -> Requests:
    """The Istio proxy istiod injects into every workload pod (global.proxy.resources)."""
    istiod = [chart for chart in charts if chart.chart == "istiod"]
    if len(istiod) != 1:
        raise SystemPodsError(
            f"expected one istiod chart per cluster (it sets the sidecar's requests), got {len(istiod)}"
        )
    return requests_of(chart_values(istiod[0])["global"]["proxy"]["resources"])
