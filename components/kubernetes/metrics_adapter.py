"""MetricsAdapter: prometheus-adapter serving `requests_per_second`, the custom metric the
workloads' HorizontalPodAutoscalers scale on (components/kubernetes/_app_specs.py).

What it serves, and what it must not:

- `custom.metrics.k8s.io` only, with one rule: a per-pod rate of the requests each pod's
  sidecar received, from Istio's `istio_requests_total{reporter="destination"}`, exposed as
  the Pods metric `requests_per_second` of the pods' namespace (the HPAs ask for it with an
  `AverageValue` target, requests per pod and second).
- Not `metrics.k8s.io`: metrics-server already serves the resource metrics the HPAs' CPU and
  memory targets read (the ClusterAddons chart on EKS, GKE's own). The chart registers the
  `v1beta1.metrics.k8s.io` APIService (and its node/pod reader ClusterRole) only when
  `rules.resource` is set; it is never set here, so the two never fight over the API.
- Not `external.metrics.k8s.io`: `rules.external` stays empty, so that APIService is not
  rendered either. The chart's default rules (every `container_*` and every namespaced
  series as a custom metric) are off: they would make the adapter list the whole of
  Prometheus every relist for metrics nothing asks for.

TLS of the APIService: the chart's default is `insecureSkipTLSVerify: true` (the API server
accepts any certificate from the adapter, a self-signed one it generates into /tmp/cert).
With `certManager.enabled` the chart instead makes a self-signed root Issuer, a CA
Certificate, a CA Issuer and a serving Certificate for the adapter's Service names, mounts the
serving certificate, and annotates the APIService `cert-manager.io/inject-ca-from`; cert-manager's
cainjector then writes the CA into the APIService's `caBundle` (APIServices are injectable by
default, `--enable-apiservices-injectable`), and the chart drops `insecureSkipTLSVerify`. So
the API server verifies the adapter. This needs cert-manager's CRDs and cainjector first: the
caller passes the CertManager component in `after`.

Chart: helm.v4.Chart. It has no Helm hooks at 5.3.0, so v4 skipping hooks loses nothing; its
cert-manager objects are custom resources, resolved at preview because cert-manager's CRDs are
Pulumi resources of the same program (`after`).
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes._app_specs import REQUESTS_PER_SECOND_METRIC
from components.kubernetes._charts import PROMETHEUS_ADAPTER, install_chart

RELEASE = "prometheus-adapter"
"""Also the chart's fullname (the release name contains the chart name): its Service,
Deployment and Certificates are called this."""
# The mesh's request counter and the reporter that counts a request once, at the pod that
# received it (the source sidecar and the gateways report the same request as `source`).
ISTIO_REQUESTS = "istio_requests_total"
DESTINATION_REPORTER = 'reporter="destination"'
# The chart's selector labels (templates/_helpers.tpl at 5.3.0), for the zone spreading.
SELECTOR_LABELS = {"app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/instance": RELEASE}
# The adapter is called by the API server, which is outside the mesh: a sidecar enforcing the
# mesh's STRICT mTLS would refuse it. Pinned on the pod, whatever the namespace's injection.
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}


@dataclass
class MetricsAdapterArgs:
    """Inputs of MetricsAdapter. Defaults: one replica, kube-prometheus-stack's Prometheus, a 2 m rate."""

    namespace: pulumi.Input[str]
    """Required: the namespace to install into (MonitoringStack's `monitoring`, which it creates
    and labels restricted; this component creates no namespace)."""
    prometheus_url: str = "http://prometheus-operated.monitoring.svc"
    """The Prometheus the adapter queries, scheme and host without port. Default the operator's
    governing Service of kube-prometheus-stack's Prometheus in `monitoring` (every replica behind it)."""
    prometheus_port: int = 9090
    """Its port, TCP. Default 9090 (Prometheus's web port)."""
    rate_window: str = "2m"
    """The rate() window of `requests_per_second`, a Prometheus duration. Default 2m: 8 samples at
    the HEAL7 design's 15 s scrape interval, so one missed scrape leaves the rate defined (rate()
    needs two samples; four intervals is the usual floor) while a load step shows within about a
    minute. A longer window (the chart's own rules use 5m) lags a surge by minutes; the HPA's
    scale-down stabilization (300 s) already damps the noise of a short one."""
    relist_interval: str = "1m"
    """How often the adapter re-lists which series exist (new pods), a duration. Default 1m (the
    chart's); a new pod's metric is served at most this long after its first scrape."""
    high_availability: bool = False
    """Two replicas spread over zones with a PodDisruptionBudget (maxUnavailable 1). Default false: one.
    With one replica down, every HPA's custom metric is unavailable and the HPAs hold their size."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first: cert-manager (its CRDs and cainjector, for the APIService's certificate)
    and the MonitoringStack (the namespace, Prometheus). Default none."""


def requests_per_second_rule(rate_window: str) -> dict[str, Any]:
    """The adapter's rule: `istio_requests_total` as the Pods metric `requests_per_second`.

    `resources.overrides` map the series' `namespace` and `pod` target labels (the scrape
    contract) to Kubernetes resources, so the HPA's per-pod query selects by them.
    `<<.LabelMatchers>>` carries only those resource matchers, so the reporter is repeated in
    the metrics query: otherwise the requests a pod sends (reported `source` by its own sidecar)
    would count as load on it."""
    return {
        "seriesQuery": f'{ISTIO_REQUESTS}{{{DESTINATION_REPORTER},namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{ISTIO_REQUESTS}$", "as": REQUESTS_PER_SECOND_METRIC},
        "metricsQuery": (
            f"sum(rate(<<.Series>>{{<<.LabelMatchers>>,{DESTINATION_REPORTER}}}[{rate_window}])) by (<<.GroupBy>>)"
        ),
    }


def prometheus_adapter_values(args: MetricsAdapterArgs) -> dict[str, Any]:
    """Values for the prometheus-adapter chart (keys checked against its values.yaml at 5.3.0)."""
    highly_available = args.high_availability
    values: dict[str, Any] = {
        "prometheus": {"url": args.prometheus_url, "port": args.prometheus_port, "path": ""},
        "metricsRelistInterval": args.relist_interval,
        # The chart's 4 logs every request the API server makes; 2 keeps errors and changes.
        "logLevel": 2,
        "rules": {
            # Off: the chart's catch-all rules (module docstring).
            "default": False,
            "custom": [requests_per_second_rule(args.rate_window)],
            "external": [],
            # `resource` is deliberately absent: set, it would register metrics.k8s.io over
            # metrics-server's.
        },
        # The APIService verified through cert-manager, not insecureSkipTLSVerify.
        "certManager": {"enabled": True},
        "replicas": 2 if highly_available else 1,
        "podDisruptionBudget": {"enabled": highly_available, "maxUnavailable": 1},
        # Requests so the scheduler reserves room (the chart sets none); the memory limit bounds
        # its cache of series names. No CPU limit: throttling only slows the HPAs' reads.
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "podLabels": NO_SIDECAR,
        # Pod Security restricted: the chart's container defaults (values.yaml at 5.3.0) stated,
        # plus non-root and RuntimeDefault seccomp on the pod. The image's user is 10001.
        "podSecurityContext": {
            "fsGroup": 10001,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if highly_available:
        # One replica per zone, so a zone loss leaves the HPAs a metric (the chart does not fill
        # in a selector: its own labels, stated).
        values["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": SELECTOR_LABELS},
            }
        ]
    return values


class MetricsAdapter(pulumi.ComponentResource):
    ready: pulumi.Resource
    """The chart: something that needs the custom metrics API served waits for it."""
    metric_name: str
    """The custom metric served (`requests_per_second`)."""

    def __init__(self, name: str, args: MetricsAdapterArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(name, args)
        super().__init__("platform:kubernetes:MetricsAdapter", name, None, opts)
        self.ready = install_chart(
            f"{name}-chart",
            PROMETHEUS_ADAPTER,
            release=RELEASE,
            namespace=args.namespace,
            values=prometheus_adapter_values(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        self.metric_name = REQUESTS_PER_SECOND_METRIC
        self.register_outputs({"metric_name": self.metric_name})


def _validate(name: str, args: MetricsAdapterArgs) -> None:
    """Raise before anything registers: a URL with a port or path, or a window rate() cannot use."""
    problems = []
    if not args.prometheus_url.startswith(("http://", "https://")) or args.prometheus_url.count(":") > 1:
        problems.append(f"prometheus_url must be http(s)://host without a port, got {args.prometheus_url!r}")
    if not 1 <= args.prometheus_port <= 65535:
        problems.append(f"prometheus_port must be 1-65535, got {args.prometheus_port}")
    if not _duration_seconds(args.rate_window) >= 60:
        problems.append(
            f"rate_window must be a Prometheus duration of at least 1m (4 scrapes), got {args.rate_window!r}"
        )
    if not _duration_seconds(args.relist_interval) > 0:
        problems.append(f"relist_interval must be a positive duration, got {args.relist_interval!r}")
    if problems:
        raise ValueError(f"MetricsAdapter {name}: " + "; ".join(problems))


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _duration_seconds(duration: str) -> int:
    """Seconds of a simple Prometheus duration (`90s`, `2m`, `1h`); 0 when it is not one."""
    number, unit = duration[:-1], duration[-1:]
    return int(number) * _UNITS[unit] if number.isdigit() and unit in _UNITS else 0
