"""MonitoringStack: Prometheus, Alertmanager and Grafana of one cluster (kube-prometheus-stack).

The same component runs on EKS and GKE. Each cluster watches itself: its Prometheus scrapes
its own targets and evaluates every rule, its Alertmanager pages. A region loss or a VPN
outage then never blinds the surviving cluster or silences its alerts; both clusters'
alerts carry `cluster` (Prometheus's external label), so the receivers tell them apart.

What the component writes besides the chart (components/kubernetes/_monitoring_values.py):
- the PrometheusRules it is given (the requirement documents' alerts, the SLO rules), the
  Pod- and ServiceMonitors of the mesh and the add-ons, and one ConfigMap per Grafana
  dashboard (the chart's sidecar provisions them);
- two ExternalSecrets from the platform's secret store: Grafana's admin credential and the
  Alertmanager receivers' credentials (SMTP password, Slack webhook, PagerDuty key), which
  the Alertmanager configuration names by file. No credential passes through the program.

Nothing is exposed: Prometheus, Alertmanager and Grafana are ClusterIP Services, reached
with `kubectl port-forward` under the operator's own cloud identity and Kubernetes RBAC.

Chart: helm.v4.Chart. Its only Helm hooks are the admission webhook's certificate Jobs,
replaced by cert-manager (values module docstring), and Grafana's test pod, switched off.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._charts import (
    KUBE_PROMETHEUS_STACK,
    install_chart,
    pod_security_labels,
    restricted_namespace,
)
from components.kubernetes._external_secrets_models import ExternalSecretSpec, SecretKeyRef
from components.kubernetes._monitoring_values import (
    alertmanager_values,
    grafana_values,
    kube_prometheus_stack_values,
    prometheus_values,
)
from components.kubernetes.istio_mesh import Platform

NAMESPACE = "monitoring"
# node-exporter's own namespace (Pod Security privileged: host network, PID and filesystem).
NODE_EXPORTER_NAMESPACE = "node-exporter"
RELEASE = "kube-prometheus-stack"
# The Prometheus Service the operator creates for every Prometheus (all replicas).
PROMETHEUS_URL = f"http://prometheus-operated.{NAMESPACE}.svc:9090"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# The labels the operator gives the pods of the chart's Prometheus (`<release>-prometheus`).
PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": f"{RELEASE}-prometheus",
}
EXTERNAL_SECRETS_API = "external-secrets.io/v1"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
# The fields cert-manager's CA injector writes into the operator's webhook configurations.
INJECTED_WEBHOOK_FIELDS = ("webhooks[*].clientConfig.caBundle",)
WEBHOOK_TYPES = (
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
)


@dataclass(frozen=True)
class ReceiverCredentials:
    """The Alertmanager receivers' credentials: one JSON secret of the store, synced into one
    Kubernetes Secret the Alertmanager pods mount."""

    remote_key: str
    """Required: the secret's name in the cloud secret store."""
    secret_name: str
    """Required: the Kubernetes Secret (and mount directory) the configuration's *_file paths name."""
    keys: tuple[str, ...]
    """Required: the JSON keys copied, each a file of the Secret."""


@dataclass(frozen=True)
class InternalEndpoint:
    """Prometheus's query API behind a GKE internal passthrough load balancer, on a reserved
    address of the nodes' subnet, for the other cloud's Grafana across the HA VPN."""

    address: pulumi.Input[str]
    """Required: the reserved INTERNAL address (an IP of the nodes' subnet)."""
    source_ranges: list[str]
    """Required: the only ranges admitted (GKE writes them into the load balancer's firewall rule)."""


@dataclass
class MonitoringStackArgs:
    """Inputs of MonitoringStack. Sizes have no default: they come from the tier."""

    platform: Platform
    """Required: `eks` or `gke`, the `cluster` external label of every series and alert."""
    storage_class: pulumi.Input[str]
    """Required: the encrypted StorageClass of Prometheus's and Alertmanager's volumes."""
    retention_days: int
    """Required: how long Prometheus keeps samples, in days."""
    volume_size_gib: int
    """Required: each Prometheus replica's volume, in GiB (samples are dropped at 85 % of it)."""
    memory_gib: int
    """Required: each Prometheus replica's memory request and limit, in GiB."""
    secret_store_name: pulumi.Input[str]
    """Required: the ClusterSecretStore serving the monitoring namespace (the platform's)."""
    grafana_admin_remote_key: str
    """Required: the store's secret with Grafana's `admin-user` and `admin-password` (JSON keys)."""
    receivers: ReceiverCredentials
    """Required: the receivers' credentials the Alertmanager configuration names by file."""
    alertmanager_config: dict[str, Any]
    """Required: alertmanager.yaml (routes, receivers, inhibition), credentials by file only."""
    runbook_base_url: str
    """Required: where docs/runbooks/ is browsed; the chart's own alerts link their group's page."""
    rule_groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """PrometheusRule name -> its rule groups (Prometheus rule-file groups). Default none."""
    scrape_targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Role -> a PodMonitor or ServiceMonitor manifest (apiVersion, kind, metadata, spec). Default none."""
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    """File name (`<name>.json`) -> Grafana dashboard model. Default none."""
    peer_data_sources: list[dict[str, pulumi.Input[Any]]] = field(default_factory=list)
    """Further Grafana data sources (the other cluster's Prometheus; values may be Outputs). Default none."""
    internal_endpoint: InternalEndpoint | None = None
    """Expose Prometheus's API on an internal load balancer (GKE only). Default None: ClusterIP only."""
    scrape_interval_seconds: int = 15
    """Scrape and rule-evaluation interval, in seconds. Default 15 (the HEAL7 design)."""
    high_availability: bool = False
    """Two Prometheus replicas and three Alertmanagers spread over zones, with PDBs. Default false:
    one of each."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first: cert-manager (the webhook's certificate), the secret store. Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespaces (ownership). Default none."""


def ignore_injected_ca_bundle(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform for the chart: its webhook configurations ignore the caBundle cert-manager injects."""
    if args.type_ not in WEBHOOK_TYPES:
        return None
    present = args.opts.ignore_changes or []
    added = [path for path in INJECTED_WEBHOOK_FIELDS if path not in present]
    return pulumi.ResourceTransformResult(
        props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(ignore_changes=added))
    )


class MonitoringStack(pulumi.ComponentResource):
    """kube-prometheus-stack with the platform's rules, scrape targets, dashboards and routing."""

    namespace: pulumi.Output[str]
    prometheus_url: str
    ready: pulumi.Resource

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(name, args)
        super().__init__("platform:kubernetes:MonitoringStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        highly_available = args.high_availability

        # The operator, Prometheus, Alertmanager, Grafana and kube-state-metrics run non-root
        # with RuntimeDefault seccomp, no privilege escalation and every capability dropped
        # (the charts' securityContext defaults): restricted.
        namespace = restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        node_exporter_namespace = kubernetes.core.v1.Namespace(
            f"{name}-node-exporter-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=NODE_EXPORTER_NAMESPACE,
                labels={**args.labels, **pod_security_labels("privileged")},
                annotations={
                    "platform/pod-security-reason": "node-exporter reads the host's /proc, /sys and root "
                    "filesystem in the host's network and PID namespaces"
                },
            ),
            opts=child,
        )
        grafana_admin = self._external_secret(
            f"{name}-grafana-admin",
            GRAFANA_ADMIN_SECRET,
            namespace,
            args.secret_store_name,
            tuple(
                SecretKeyRef(secret_key=key, remote_key=args.grafana_admin_remote_key, property=key)
                for key in ("admin-user", "admin-password")
            ),
        )
        receivers = self._external_secret(
            f"{name}-alertmanager-receivers",
            args.receivers.secret_name,
            namespace,
            args.secret_store_name,
            tuple(
                SecretKeyRef(secret_key=key, remote_key=args.receivers.remote_key, property=key)
                for key in args.receivers.keys
            ),
        )
        chart = install_chart(
            f"{name}-chart",
            KUBE_PROMETHEUS_STACK,
            release=RELEASE,
            namespace=namespace.metadata.name,
            values=pulumi.Output.all(args.storage_class, args.peer_data_sources).apply(
                lambda resolved: kube_prometheus_stack_values(
                    prometheus=prometheus_values(
                        cluster=args.platform,
                        replicas=2 if highly_available else 1,
                        scrape_interval_seconds=args.scrape_interval_seconds,
                        retention_days=args.retention_days,
                        volume_size_gib=args.volume_size_gib,
                        memory_gib=args.memory_gib,
                        storage_class=resolved[0],
                    ),
                    alertmanager=alertmanager_values(
                        # Three: a quorum of the gossip mesh survives a zone.
                        replicas=3 if highly_available else 1,
                        config=args.alertmanager_config,
                        receivers_secret=args.receivers.secret_name,
                        storage_class=resolved[0],
                    ),
                    grafana=grafana_values(
                        cluster=args.platform, admin_secret=GRAFANA_ADMIN_SECRET, peer_data_sources=resolved[1]
                    ),
                    namespace=NAMESPACE,
                    release=RELEASE,
                    platform=args.platform,
                    node_exporter_namespace=NODE_EXPORTER_NAMESPACE,
                    runbook_base_url=args.runbook_base_url,
                )
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                transforms=[ignore_injected_ca_bundle],
                # The Secrets the pods mount exist before them; cert-manager issues the
                # webhook's certificate.
                depends_on=[node_exporter_namespace, grafana_admin, receivers, *args.after],
            ),
        )
        # The chart's CRDs and the operator's webhook come first.
        after_chart = pulumi.ResourceOptions(parent=self, depends_on=[chart])
        for rule_name, groups in args.rule_groups.items():
            kubernetes.apiextensions.CustomResource(
                f"{name}-rules-{rule_name}",
                api_version=PROMETHEUS_OPERATOR_API,
                kind="PrometheusRule",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=rule_name, namespace=NAMESPACE),
                spec={"groups": groups},
                opts=after_chart,
            )
        for role, manifest in args.scrape_targets.items():
            kubernetes.apiextensions.CustomResource(
                f"{name}-scrape-{role}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=after_chart,
            )
        for file_name, dashboard in args.dashboards.items():
            kubernetes.core.v1.ConfigMap(
                f"{name}-dashboard-{file_name.removesuffix('.json')}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{file_name.removesuffix('.json')}",
                    namespace=namespace.metadata.name,
                    # The Grafana sidecar's label (values: sidecar.dashboards.label/labelValue).
                    labels={"grafana_dashboard": "1"},
                ),
                data={file_name: json.dumps(dashboard, indent=2, sort_keys=True)},
                opts=child,
            )

        if args.internal_endpoint is not None:
            self._internal_endpoint(name, args.internal_endpoint, after_chart)

        self.namespace = namespace.metadata.name
        self.prometheus_url = PROMETHEUS_URL
        self.ready = chart
        self.register_outputs({"namespace": self.namespace})

    def _internal_endpoint(self, name: str, endpoint: InternalEndpoint, opts: pulumi.ResourceOptions) -> None:
        """A GKE internal passthrough load balancer in front of every Prometheus replica: read-only
        query API (the admin API stays off), plain HTTP inside the VPCs, IPsec across the VPN."""
        kubernetes.core.v1.Service(
            f"{name}-prometheus-internal",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name="prometheus-internal",
                namespace=NAMESPACE,
                # An internal passthrough Network Load Balancer (GKE's annotation).
                annotations={"networking.gke.io/load-balancer-type": "Internal"},
            ),
            spec=kubernetes.core.v1.ServiceSpecArgs(
                type="LoadBalancer",
                # The reserved address by IP: GKE's legacy internal load balancer controller (no
                # ILB subsetting on this cluster) reads only spec.loadBalancerIP, not the
                # load-balancer-ip-addresses annotation the ingress gateway's external one uses.
                load_balancer_ip=endpoint.address,
                selector=PROMETHEUS_POD_LABELS,
                ports=[
                    kubernetes.core.v1.ServicePortArgs(name="http-web", port=9090, target_port=9090, protocol="TCP")
                ],
                load_balancer_source_ranges=endpoint.source_ranges,
            ),
            opts=opts,
        )

    def _external_secret(
        self,
        resource_name: str,
        target: str,
        namespace: kubernetes.core.v1.Namespace,
        store_name: pulumi.Input[str],
        data: tuple[SecretKeyRef, ...],
    ) -> kubernetes.apiextensions.CustomResource:
        return kubernetes.apiextensions.CustomResource(
            resource_name,
            api_version=EXTERNAL_SECRETS_API,
            kind="ExternalSecret",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=target, namespace=namespace.metadata.name),
            spec=pulumi.Output.from_input(store_name).apply(
                lambda store: ExternalSecretSpec(store_name=store, target_secret=target, data=data).manifest()
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _validate(name: str, args: MonitoringStackArgs) -> None:
    problems = []
    if args.retention_days < 1:
        problems.append(f"retention_days must be at least 1, got {args.retention_days}")
    if args.volume_size_gib < 10:
        problems.append(f"volume_size_gib must be at least 10, got {args.volume_size_gib}")
    if not args.receivers.keys:
        problems.append("receivers.keys must name at least one credential")
    for role, manifest in args.scrape_targets.items():
        if manifest.get("kind") not in ("PodMonitor", "ServiceMonitor"):
            problems.append(f"scrape target {role} is a {manifest.get('kind')}, not a PodMonitor or ServiceMonitor")
    if problems:
        raise ValueError(f"MonitoringStack {name}: " + "; ".join(problems))
