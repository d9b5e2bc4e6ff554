"""Every Helm chart the platform installs: where it comes from and its exact version.

One module, so the README's chart table, the policy pack and `make plan` read the same
coordinates. Versions are exact releases, never ranges or `latest`: a chart bump is a
reviewed diff. Each constant names the upstream tag whose `values.yaml` and CRDs the
component's typed values and custom-resource models were checked against.

Also how the components install a chart (`install_chart`) and label the namespaces they
own (`restricted_namespace`, `pod_security_labels`, which WorkloadNamespace shares).
"""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes


@dataclass(frozen=True)
class ChartCoordinates:
    """Where a chart comes from: its Helm repository, its name there and its exact version."""

    repository: str
    """Required: the chart repository's URL (`https://...`, as `helm repo add` takes it)."""
    chart: str
    """Required: the chart's name in that repository."""
    version: str
    """Required: the exact chart version (a release, never a range or `latest`)."""


# cert-manager's chart version carries the `v` of its release tag (cert-manager v1.21.1,
# deploy/charts/cert-manager at that tag).
CERT_MANAGER = ChartCoordinates(repository="https://charts.jetstack.io", chart="cert-manager", version="v1.21.1")
# External Secrets Operator chart 2.9.0 (tag helm-chart-2.9.0, app v2.9.0): serves
# external-secrets.io/v1 only (v1beta1 is no longer served unless crds.unsafeServeV1Beta1).
EXTERNAL_SECRETS = ChartCoordinates(
    repository="https://charts.external-secrets.io", chart="external-secrets", version="2.9.0"
)
# kubernetes/autoscaler, tag vertical-pod-autoscaler-chart-0.11.0 (VPA 1.7.1). The repository
# is the one the chart's README installs from (`helm repo add autoscalers ...`).
VERTICAL_POD_AUTOSCALER = ChartCoordinates(
    repository="https://kubernetes.github.io/autoscaler", chart="vertical-pod-autoscaler", version="0.11.0"
)
# aws/eks-charts stable/aws-load-balancer-controller 3.5.0 (controller v3.5.0): the same
# chart and values as kubernetes-sigs/aws-load-balancer-controller's helm/ at tag v3.5.0.
AWS_LOAD_BALANCER_CONTROLLER = ChartCoordinates(
    repository="https://aws.github.io/eks-charts", chart="aws-load-balancer-controller", version="3.5.0"
)
# kubernetes-sigs/metrics-server, tag metrics-server-helm-chart-3.13.1 (metrics-server 0.8.1).
METRICS_SERVER = ChartCoordinates(
    repository="https://kubernetes-sigs.github.io/metrics-server/", chart="metrics-server", version="3.13.1"
)
# argoproj/argo-helm, tag argo-rollouts-2.41.0 (Argo Rollouts v1.9.0, the chart's appVersion).
# Its CRDs are chart templates (templates/crds/, `installCRDs`) whose schemas are
# argoproj/argo-rollouts' manifests/crds at v1.9.0 unchanged; the repository is the one the
# argo-helm README adds as `argo`.
ARGO_ROLLOUTS = ChartCoordinates(
    repository="https://argoproj.github.io/argo-helm", chart="argo-rollouts", version="2.41.0"
)
# prometheus-community/helm-charts: the Prometheus community's charts, one repository (the one
# its README adds as `prometheus-community`).
PROMETHEUS_COMMUNITY_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
# Tag prometheus-adapter-5.3.0 (prometheus-adapter v0.12.0): values.yaml and templates read at that
# tag (rules.*, certManager.*, the three APIService templates).
PROMETHEUS_ADAPTER = ChartCoordinates(
    repository=PROMETHEUS_COMMUNITY_REPOSITORY, chart="prometheus-adapter", version="5.3.0"
)
# Tag prometheus-postgres-exporter-8.2.0 (postgres_exporter v0.20.1, whose collectors name the
# metrics the rules use: `pg_replication_slots_*` since v0.20.0).
POSTGRES_EXPORTER = ChartCoordinates(
    repository=PROMETHEUS_COMMUNITY_REPOSITORY, chart="prometheus-postgres-exporter", version="8.2.0"
)
# Tag prometheus-redis-exporter-6.29.0 (redis_exporter v1.89.0).
REDIS_EXPORTER = ChartCoordinates(
    repository=PROMETHEUS_COMMUNITY_REPOSITORY, chart="prometheus-redis-exporter", version="6.29.0"
)
# Tag kube-prometheus-stack-88.5.3 (prometheus-operator v0.93.1; subcharts grafana 12.11.1 from
# grafana-community, kube-state-metrics 8.4.0, prometheus-node-exporter 4.56.1).
KUBE_PROMETHEUS_STACK = ChartCoordinates(
    repository=PROMETHEUS_COMMUNITY_REPOSITORY, chart="kube-prometheus-stack", version="88.5.3"
)
# elastic/cloud-on-k8s, tag v3.5.0 (ECK 3.5.0, the newest release there): deploy/eck-operator
# and its eck-operator-crds subchart (`installCRDs`), whose CRDs are chart templates marked
# `helm.sh/resource-policy: keep`. The repository is the one ECK's Helm install guide adds.
ECK_OPERATOR = ChartCoordinates(repository="https://helm.elastic.co", chart="eck-operator", version="3.5.0")
# fluent/helm-charts, tag fluent-bit-0.58.1 (Fluent Bit 5.1.1, the chart's appVersion).
FLUENT_BIT = ChartCoordinates(repository="https://fluent.github.io/helm-charts", chart="fluent-bit", version="0.58.1")
# Istio 1.31.4, one version for its four charts (they are released together and istiod
# refuses proxies more than one minor apart). Values checked against istio/istio's
# manifests/charts at the release-1.31 branch (base, istio-cni, istio-control/istio-discovery,
# gateway); the repository is the one Istio's Helm install guide adds as `istio`.
ISTIO_VERSION = "1.31.4"
ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
ISTIO_BASE = ChartCoordinates(repository=ISTIO_REPOSITORY, chart="base", version=ISTIO_VERSION)
ISTIO_CNI = ChartCoordinates(repository=ISTIO_REPOSITORY, chart="cni", version=ISTIO_VERSION)
ISTIOD = ChartCoordinates(repository=ISTIO_REPOSITORY, chart="istiod", version=ISTIO_VERSION)
ISTIO_GATEWAY = ChartCoordinates(repository=ISTIO_REPOSITORY, chart="gateway", version=ISTIO_VERSION)


def install_chart(
    resource_name: str,
    coordinates: ChartCoordinates,
    *,
    release: str,
    namespace: pulumi.Input[str],
    values: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> kubernetes.helm.v4.Chart:
    """A pinned chart as a helm.v4.Chart: every object a Pulumi resource (real diffs, render
    mode works); Helm hooks are skipped, so each caller says why its chart needs none."""
    return kubernetes.helm.v4.Chart(
        resource_name,
        name=release,
        chart=coordinates.chart,
        version=coordinates.version,
        repository_opts=kubernetes.helm.v4.RepositoryOptsArgs(repo=coordinates.repository),
        namespace=namespace,
        values=values,
        opts=opts,
    )


def restricted_namespace(
    resource_name: str, namespace: str, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> kubernetes.core.v1.Namespace:
    """A chart's own namespace under Pod Security `restricted` (enforce, warn, audit); the
    caller has checked the chart's pods satisfy it."""
    return kubernetes.core.v1.Namespace(
        resource_name,
        metadata=kubernetes.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels={
                **labels,
                **pod_security_labels("restricted"),
            },
        ),
        opts=opts,
    )


# Pod Security admission labels (Kubernetes Pod Security Standards). `enforce` rejects
# violating pods; `warn` and `audit` report them at the same level, so a deployment sees
# why before it fails.
POD_SECURITY_MODES = ("enforce", "warn", "audit")


def pod_security_labels(level: str) -> dict[str, str]:
    """The namespace labels that enforce, warn and audit one Pod Security level."""
    return {f"pod-security.kubernetes.io/{mode}": level for mode in POD_SECURITY_MODES}
