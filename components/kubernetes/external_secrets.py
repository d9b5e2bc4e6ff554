"""ExternalSecrets: External Secrets Operator and the cluster's one ClusterSecretStore.

The same component on both clusters; only the cloud side differs, and it arrives as an
argument (`AwsSecretStore` on EKS, `GcpSecretStore` on GKE):

- EKS: AWS Secrets Manager through IRSA. The operator's service account carries the
  role's ARN (`eks.amazonaws.com/role-arn`); the store's `auth.jwt.serviceAccountRef`
  names that account, so the role's trust (`system:serviceaccount:external-secrets:
  external-secrets`) and the store agree by construction.
- GKE: GCP Secret Manager through Workload Identity. The operator's service account
  carries the Google service account (`iam.gke.io/gcp-service-account`), which trusts
  `serviceAccount:<project>.svc.id.goog[external-secrets/external-secrets]`.

Chart: helm.v4.Chart, not helm.v3.Release. The ClusterSecretStore (and every
ExternalSecret after it) is a custom resource whose CRD this chart installs in the same
run; pulumi-kubernetes resolves such a resource at preview only when the CRD is itself a
Pulumi resource (v4 renders the chart into resources), never inside an opaque Release.
The chart has no Helm hooks (its webhook certificate comes from its own cert-controller
Deployment), so v4 skipping hooks costs nothing. Server-side apply (the provider's
default) keeps the large CRDs clear of the last-applied annotation's size limit.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._charts import EXTERNAL_SECRETS, install_chart, restricted_namespace
from components.kubernetes._external_secrets_models import (
    API_VERSION,
    AwsSecretsManagerProvider,
    ClusterSecretStoreSpec,
    GcpSecretManagerProvider,
    ServiceAccountRef,
)

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
"""The operator's Kubernetes service account; the cloud identity trusts exactly this one."""
STORE_NAME = "platform-secrets"
"""The cluster's one ClusterSecretStore; ExternalSecrets in any namespace name it."""
RELEASE = "external-secrets"


@dataclass(frozen=True)
class AwsSecretStore:
    """EKS side: AWS Secrets Manager in `region`, read as the IRSA role `role_arn`."""

    region: str
    """Required: the region of the platform's secrets (the stack's aws:region)."""
    role_arn: pulumi.Input[str]
    """Required: the IRSA role trusted for system:serviceaccount:external-secrets:external-secrets."""


@dataclass(frozen=True)
class GcpSecretStore:
    """GKE side: GCP Secret Manager in `project_id`, read as `google_service_account`."""

    project_id: str
    """Required: the project holding the secrets (the stack's gcp:project)."""
    cluster_location: str
    """Required: the GKE cluster's location (its region: the cluster is regional)."""
    cluster_name: pulumi.Input[str]
    """Required: the GKE cluster's name (its workload identity pool is the project's)."""
    google_service_account: pulumi.Input[str]
    """Required: email of the Google service account the operator impersonates."""


@dataclass
class ExternalSecretsArgs:
    """Inputs of ExternalSecrets. Defaults: one replica of each Deployment."""

    cloud: AwsSecretStore | GcpSecretStore
    """Required: which cloud secret store the cluster reads, and as which identity."""
    replicas: int = 1
    """Replicas of the controller and of the webhook each, in pods. Default 1; 2 or more adds a
    PodDisruptionBudget (a node drain then never takes the webhook away, which would block
    every ExternalSecret write)."""
    store_namespaces: list[str] = field(default_factory=lambda: ["cert-manager"])
    """The namespaces allowed to read the platform's secrets through the store. Default
    cert-manager only (its DNS token); a workload namespace gets a store of its own, scoped
    to its own secrets, so a deployer there cannot copy the platform's."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespace (ownership). Default none."""


def external_secrets_values(*, service_account_annotations: dict[str, Any], replicas: int) -> dict[str, Any]:
    """Values for the external-secrets chart (keys checked against its values.yaml at 2.9.0)."""
    highly_available = replicas > 1
    return {
        # The chart's default, stated: the CRDs must be Pulumi resources of this chart so the
        # ClusterSecretStore resolves at preview in the run that installs them.
        "installCRDs": True,
        "serviceAccount": {
            # A fixed name (not the release-derived default): the cloud identity's trust and
            # the store's serviceAccountRef both name it.
            "name": SERVICE_ACCOUNT,
            "annotations": service_account_annotations,
        },
        "replicaCount": replicas,
        # A rolling update overlaps two controllers even at one replica; with the lease only
        # one reconciles at a time (off by default).
        "leaderElect": True,
        "podDisruptionBudget": {"enabled": highly_available},
        # Requests so the scheduler reserves room (the chart sets none); the memory limit
        # bounds the controller's cache of every synced Secret.
        "resources": _resources("50m", "128Mi", "512Mi"),
        "webhook": {
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": highly_available},
            "resources": _resources("10m", "64Mi", "256Mi"),
        },
        "certController": {"resources": _resources("10m", "64Mi", "256Mi")},
        # No Prometheus operator yet: the monitoring issue turns the ServiceMonitor on.
        "serviceMonitor": {"enabled": False},
    }


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    # No CPU limit: throttling a controller only delays reconciles; memory is bounded.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


class ExternalSecrets(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    store_name: pulumi.Output[str]
    """The ClusterSecretStore's name, once it exists (an ExternalSecret that names it through
    this output waits for the store, the operator and its CRDs)."""
    service_account: ServiceAccountRef

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        if args.replicas < 1:
            raise ValueError(f"ExternalSecrets {name}: replicas must be at least 1, got {args.replicas}")
        super().__init__("platform:kubernetes:ExternalSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        operator = ServiceAccountRef(SERVICE_ACCOUNT, NAMESPACE)

        cloud = args.cloud
        if isinstance(cloud, AwsSecretStore):
            annotations: dict[str, Any] = {"eks.amazonaws.com/role-arn": cloud.role_arn}
            provider: AwsSecretsManagerProvider | GcpSecretManagerProvider = AwsSecretsManagerProvider(
                region=cloud.region, service_account=operator
            )
        else:
            annotations = {"iam.gke.io/gcp-service-account": cloud.google_service_account}
            provider = GcpSecretManagerProvider(
                project_id=cloud.project_id,
                cluster_location=cloud.cluster_location,
                cluster_name=cloud.cluster_name,
                cluster_project_id=cloud.project_id,
                service_account=operator,
            )

        # Every pod of the chart runs non-root with RuntimeDefault seccomp, no privilege
        # escalation and all capabilities dropped (its values.yaml securityContext
        # defaults), so the namespace enforces restricted.
        namespace = restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        chart = install_chart(
            f"{name}-chart",
            EXTERNAL_SECRETS,
            release=RELEASE,
            namespace=namespace.metadata.name,
            values=external_secrets_values(service_account_annotations=annotations, replicas=args.replicas),
            opts=child,
        )
        store = kubernetes.apiextensions.CustomResource(
            f"{name}-store",
            api_version=API_VERSION,
            kind="ClusterSecretStore",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=STORE_NAME),
            spec=ClusterSecretStoreSpec(provider, tuple(args.store_namespaces)).manifest(),
            # The CRD, the operator and its validating webhook come from the chart: the
            # store is created once they are ready (v4 waits for the Deployments).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[chart]),
        )

        self.namespace = namespace.metadata.name
        self.store_name = store.urn.apply(lambda _: STORE_NAME)
        self.service_account = operator
        self.register_outputs({"namespace": self.namespace, "store_name": self.store_name})
