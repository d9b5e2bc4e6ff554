"""ExternalSecrets: External Secrets Operator and the cluster's ClusterSecretStores.

The platform's store (`platform-secrets`, its own secrets such as the DNS token) is read as
the operator's own service account. Each further store (`ScopedStore`: the workloads'
`workload-secrets`) is read as a service account of its own in the operator's namespace,
which carries a cloud identity of its own, and serves only its listed namespaces: a
workload namespace can name no secret the platform's identity reads, and the workloads'
identity cannot read the platform's secrets.

The same component on both clusters; only the cloud side differs, and it arrives as an
argument (`AwsSecretStore` on EKS, `GcpSecretStore` on GKE):

- EKS: AWS Secrets Manager through IRSA. The operator's service account carries the
  role's ARN (`eks.amazonaws.com/role-arn`); the store's `auth.jwt.serviceAccountRef`
  names that account, so the role's trust (`system:serviceaccount:external-secrets:
  external-secrets`) and the store agree by construction.
- GKE: GCP Secret Manager through Workload Identity. The operator's service account
  carries the Google service account (`iam.gke.io/gcp-service-account`), which trusts
  `serviceAccount:<project>.svc.id.goog[external-secrets/external-secrets]`.

The operator reads a store's identity from the annotation of the account the store names
and requests that account's token itself (the chart's `rbac.serviceAccountTokenCreate`,
true by default, grants it `serviceaccounts/token` create), so a scoped store's account
needs no pod.

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
"""The platform's ClusterSecretStore, served only to `store_namespaces` (cert-manager)."""
WORKLOAD_STORE_NAME = "workload-secrets"
"""The workloads' ClusterSecretStore (a ScopedStore): their connection URLs, nothing else."""
WORKLOAD_SERVICE_ACCOUNT = "external-secrets-workloads"
"""The account the workloads' store is read as; the workloads' cloud identity trusts exactly this one."""
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


@dataclass(frozen=True)
class ScopedStore:
    """A further ClusterSecretStore, read as an identity of its own, served only to `namespaces`."""

    name: str
    """Required: the ClusterSecretStore's name (a DNS label; not `platform-secrets`)."""
    service_account: str
    """Required: the service account, in the operator's namespace, whose annotation carries
    `cloud`'s identity; the cloud identity trusts exactly this account."""
    cloud: AwsSecretStore | GcpSecretStore
    """Required: which cloud secret store, read as which identity."""
    namespaces: tuple[str, ...]
    """Required: the only namespaces whose ExternalSecrets may use the store."""


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
    scoped_stores: list[ScopedStore] = field(default_factory=list)
    """Further stores, each read as its own identity for its own namespaces (the workloads'
    `workload-secrets`). Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespace (ownership). Default none."""


def identity_annotations(cloud: AwsSecretStore | GcpSecretStore) -> dict[str, Any]:
    """The service-account annotation naming the cloud identity the operator acts as."""
    if isinstance(cloud, AwsSecretStore):
        return {"eks.amazonaws.com/role-arn": cloud.role_arn}
    return {"iam.gke.io/gcp-service-account": cloud.google_service_account}


def store_provider(
    cloud: AwsSecretStore | GcpSecretStore, account: ServiceAccountRef
) -> AwsSecretsManagerProvider | GcpSecretManagerProvider:
    """`spec.provider` of a store read as `account` (whose annotation names the identity)."""
    if isinstance(cloud, AwsSecretStore):
        return AwsSecretsManagerProvider(region=cloud.region, service_account=account)
    return GcpSecretManagerProvider(
        project_id=cloud.project_id,
        cluster_location=cloud.cluster_location,
        cluster_name=cloud.cluster_name,
        cluster_project_id=cloud.project_id,
        service_account=account,
    )


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
        # The three Deployments declare port `metrics` (8080) whatever this says; the
        # monitoring's PodMonitors scrape it (_scrape_targets.py). The chart's ServiceMonitor
        # stays off: it would need the operator's CRDs before this chart.
        "serviceMonitor": {"enabled": False},
    }


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    # No CPU limit: throttling a controller only delays reconciles; memory is bounded.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


class ExternalSecrets(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    store_name: pulumi.Output[str]
    """The platform ClusterSecretStore's name, once it exists (an ExternalSecret that names it
    through this output waits for the store, the operator and its CRDs)."""
    store_names: dict[str, pulumi.Output[str]]
    """Each scoped store's name, once it exists, by name."""
    service_account: ServiceAccountRef

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(name, args)
        super().__init__("platform:kubernetes:ExternalSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        operator = ServiceAccountRef(SERVICE_ACCOUNT, NAMESPACE)

        # Every pod of the chart runs non-root with RuntimeDefault seccomp, no privilege
        # escalation and all capabilities dropped (its values.yaml securityContext
        # defaults), so the namespace enforces restricted.
        namespace = restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        chart = install_chart(
            f"{name}-chart",
            EXTERNAL_SECRETS,
            release=RELEASE,
            namespace=namespace.metadata.name,
            values=external_secrets_values(
                service_account_annotations=identity_annotations(args.cloud), replicas=args.replicas
            ),
            opts=child,
        )

        def cluster_store(
            resource_name: str,
            store_name: str,
            provider: Any,
            namespaces: tuple[str, ...],
            after: list[pulumi.Resource],
        ) -> pulumi.Output[str]:
            store = kubernetes.apiextensions.CustomResource(
                resource_name,
                api_version=API_VERSION,
                kind="ClusterSecretStore",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=store_name),
                spec=ClusterSecretStoreSpec(provider, namespaces).manifest(),
                # The CRD, the operator and its validating webhook come from the chart: the
                # store is created once they are ready (v4 waits for the Deployments).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[chart, *after]),
            )
            return store.urn.apply(lambda _: store_name)

        self.store_name = cluster_store(
            f"{name}-store", STORE_NAME, store_provider(args.cloud, operator), tuple(args.store_namespaces), []
        )
        self.store_names = {}
        for scoped in args.scoped_stores:
            # An account no pod runs as: it only carries the identity, and the operator
            # requests its token when it reads the store.
            account = kubernetes.core.v1.ServiceAccount(
                f"{name}-{scoped.name}-account",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=scoped.service_account,
                    namespace=namespace.metadata.name,
                    annotations=identity_annotations(scoped.cloud),
                ),
                automount_service_account_token=False,
                opts=child,
            )
            self.store_names[scoped.name] = cluster_store(
                f"{name}-{scoped.name}-store",
                scoped.name,
                store_provider(scoped.cloud, ServiceAccountRef(scoped.service_account, NAMESPACE)),
                scoped.namespaces,
                [account],
            )

        self.namespace = namespace.metadata.name
        self.service_account = operator
        self.register_outputs(
            {"namespace": self.namespace, "store_name": self.store_name, "store_names": self.store_names}
        )


def _validate(name: str, args: ExternalSecretsArgs) -> None:
    """Raise before anything registers: two stores or accounts sharing a name would be one object."""
    problems = []
    if args.replicas < 1:
        problems.append(f"replicas must be at least 1, got {args.replicas}")
    names = [STORE_NAME, *(store.name for store in args.scoped_stores)]
    accounts = [SERVICE_ACCOUNT, *(store.service_account for store in args.scoped_stores)]
    if len(set(names)) != len(names):
        problems.append(f"store names must be unique, got {names}")
    if len(set(accounts)) != len(accounts):
        problems.append(f"each store needs a service account of its own, got {accounts}")
    problems += [f"store {store.name} serves no namespace" for store in args.scoped_stores if not store.namespaces]
    if problems:
        raise ValueError(f"ExternalSecrets {name}: " + "; ".join(problems))
