"""The Kubernetes layer on both clusters: one explicit provider each, then the platform
services every workload needs, from the same components on EKS and GKE.

What differs between the clusters arrives as arguments: the kubeconfig (EKS: `aws eks
get-token`; GKE: `gke-gcloud-auth-plugin`), and which data stores each cluster's pods
reach (EKS: RDS and Redis in the AWS private subnets; GKE: the Cloud SQL replica in the
private-services range), and which cloud secret store External Secrets reads as which
identity (EKS: Secrets Manager through IRSA; GKE: Secret Manager through Workload Identity).

The first `pulumi up` (pulumi-kubernetes issue 3027): a helm.v4.Chart is rendered by the
provider itself (a component constructed provider-side), and while the cluster does not
exist the provider's kubeconfig is unknown; the Chart's preview then fails ("failed to
parse kubeconfig data") instead of being deferred like a plain object's. So the charts
and the custom resources that need their CRDs are registered once the cluster's
kubeconfig is known (`_once_cluster_exists`): the first preview shows the clusters, the
namespaces and the cloud identities (the charts are absent from it); `pulumi up`
creates the cluster, then the charts and their resources in the same run. Every later
preview, with the cluster in place, shows the charts' objects in full.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as kubernetes

from components.aws._context import AwsContext
from components.aws._iam_documents import secrets_reader_policy
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs
from components.gcp.workload_identity_account import ProjectRole, WorkloadIdentityAccount, WorkloadIdentityAccountArgs
from components.kubernetes import external_secrets
from components.kubernetes.cert_manager import CertManager, CertManagerArgs
from components.kubernetes.external_secrets import AwsSecretStore, ExternalSecrets, ExternalSecretsArgs, GcpSecretStore
from components.kubernetes.workload_namespace import EgressDestination, WorkloadNamespace, WorkloadNamespaceArgs
from stacks.aws_platform import AwsPrimary
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary

POSTGRES_PORT = 5432
REDIS_PORT = 6379
# The cert-manager DNS-01 token's name in each cloud's secret store, after the platform's
# prefix. The operator stores it there before the first `pulumi up` (a Cloudflare API
# token with Zone:DNS:Edit on the zone only); the program never sees its value.
CLOUDFLARE_TOKEN_SECRET = "cloudflare-dns-token"


@dataclass
class ClusterPlatform:
    """One cluster's Kubernetes layer: its provider and its workload namespaces."""

    cluster_name: str
    provider: kubernetes.Provider
    namespaces: dict[str, WorkloadNamespace]


def build_kubernetes(config: PlatformConfig, primary: AwsPrimary, secondary: GcpSecondary) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first."""
    prefix = config.resource_prefix
    private_subnets = [str(cidr) for cidr in config.aws.subnet_plan().private]
    eks = _cluster_platform(
        config,
        f"{prefix}-eks",
        primary.cluster.kubeconfig,
        # RDS and ElastiCache live in the private subnets (their subnet groups).
        [
            EgressDestination("postgres", private_subnets, POSTGRES_PORT, "the RDS primary in the private subnets"),
            EgressDestination("redis", private_subnets, REDIS_PORT, "ElastiCache Redis in the private subnets"),
        ],
    )
    gke = _cluster_platform(
        config,
        f"{prefix}-gke",
        secondary.cluster.kubeconfig,
        # The Cloud SQL replica's private IP comes from the private-services range.
        [
            EgressDestination(
                "postgres",
                [str(config.gcp.network.private_service_access_cidr)],
                POSTGRES_PORT,
                "the Cloud SQL replica in the private-services range",
            )
        ],
    )
    # The platform's own secrets: Secrets Manager names under `<prefix>/`, Secret Manager
    # ids under `<prefix>-` (Secret Manager ids allow no slash).
    aws_prefix, gcp_prefix = f"{prefix}/", f"{prefix}-"
    eks_reader = _eks_secrets_reader(prefix, aws_prefix, primary)
    eks_store = AwsSecretStore(region=config.aws_region, role_arn=eks_reader.role_arn)
    gke_reader, gke_store = _gke_secrets_reader(config, prefix, gcp_prefix, secondary)
    _platform_services(
        config, eks, primary.cluster.kubeconfig, eks_store, eks_reader, f"{aws_prefix}{CLOUDFLARE_TOKEN_SECRET}"
    )
    _platform_services(
        config, gke, secondary.cluster.kubeconfig, gke_store, gke_reader, f"{gcp_prefix}{CLOUDFLARE_TOKEN_SECRET}"
    )
    return [eks, gke]


def _eks_secrets_reader(prefix: str, secret_prefix: str, primary: AwsPrimary) -> IrsaRole:
    """The IRSA role External Secrets reads AWS Secrets Manager as.

    Only the platform's secrets: names under `secret_prefix` (their ARN ends in a random
    suffix, hence the `*` after the prefix) and the Redis auth token, whose name Pulumi
    generated (`<prefix>-redis-auth-token-<random>`) and so is listed by ARN, with the KMS
    key that encrypts it. Secrets under the prefix use the AWS-managed Secrets Manager key,
    which needs no KMS grant.
    """
    context = AwsContext.of(primary.cluster)
    prefixed = pulumi.Output.concat(
        "arn:",
        context.partition,
        ":secretsmanager:",
        context.region,
        ":",
        context.account_id,
        ":secret:",
        secret_prefix,
        "*",
    )
    role = IrsaRole(
        f"{prefix}-eks-external-secrets",
        IrsaRoleArgs(
            oidc=primary.cluster.oidc_identity,
            namespace=external_secrets.NAMESPACE,
            service_account=external_secrets.SERVICE_ACCOUNT,
            inline_policy=secrets_reader_policy(
                [prefixed, primary.cache.auth_token_secret_arn],
                [primary.cache.auth_token_key_arn],
                pulumi.Output.concat("secretsmanager.", context.region, ".", context.dns_suffix),
            ),
        ),
        # Under the cluster: an add-on's identity, on the cluster's AWS provider.
        opts=pulumi.ResourceOptions(parent=primary.cluster),
    )
    return role


def _gke_secrets_reader(
    config: PlatformConfig, prefix: str, secret_prefix: str, secondary: GcpSecondary
) -> tuple[WorkloadIdentityAccount, GcpSecretStore]:
    """The Google service account External Secrets reads Secret Manager as (Workload Identity).

    `secretAccessor` on the project, conditioned on the secret's resource name (Secret
    Manager's IAM conditions see `projects/<number>/secrets/<id>`, by project number).
    """
    project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=secondary.cluster))
    account = WorkloadIdentityAccount(
        f"{prefix}-gke-external-secrets",
        WorkloadIdentityAccountArgs(
            account_id=f"{prefix[:25].rstrip('-')}-eso",
            project=config.gcp_project,
            workload_pool=secondary.cluster.workload_pool,
            namespace=external_secrets.NAMESPACE,
            service_account=external_secrets.SERVICE_ACCOUNT,
            project_roles={
                "secret-accessor": ProjectRole(
                    role="roles/secretmanager.secretAccessor",
                    condition_title="platform secrets only",
                    condition_expression=project.number.apply(
                        lambda number: f'resource.name.startsWith("projects/{number}/secrets/{secret_prefix}")'
                    ),
                )
            },
        ),
        opts=pulumi.ResourceOptions(parent=secondary.cluster),
    )
    return account, GcpSecretStore(
        project_id=config.gcp_project,
        cluster_location=config.gcp_region,
        cluster_name=secondary.cluster.cluster_name,
        google_service_account=account.email,
    )


def _platform_services(
    config: PlatformConfig,
    cluster: ClusterPlatform,
    kubeconfig: pulumi.Input[str],
    store: AwsSecretStore | GcpSecretStore,
    reader: pulumi.Resource,
    token_remote_key: str,
) -> None:
    """External Secrets and cert-manager on one cluster, once its kubeconfig is known."""
    replicas = 2 if config.kubernetes.high_availability else 1
    labels = {"project": config.name, "environment": config.environment}
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)

    def build() -> None:
        secrets = ExternalSecrets(
            f"{cluster.cluster_name}-external-secrets",
            ExternalSecretsArgs(cloud=store, replicas=replicas, labels=labels),
            # The identity with its policies and bindings, not just its name: the operator's
            # first read is then never refused for a grant still being attached.
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[reader])),
        )
        CertManager(
            f"{cluster.cluster_name}-cert-manager",
            CertManagerArgs(
                zone=config.cloudflare.zone,
                secret_store_name=secrets.store_name,
                token_remote_key=token_remote_key,
                default_issuer=config.kubernetes.cert_manager.issuer,
                acme_email=config.kubernetes.cert_manager.acme_email,
                replicas=replicas,
                labels=labels,
            ),
            opts=on_cluster,
        )

    _once_cluster_exists(kubeconfig, build)


def _once_cluster_exists(kubeconfig: pulumi.Input[str], build: Callable[[], None]) -> None:
    """Run `build` once the cluster's kubeconfig is known (pulumi-kubernetes issue 3027).

    At a preview before the cluster exists the kubeconfig is unknown: `build` does not
    run and the preview notes it. At `pulumi up` the kubeconfig resolves once the cluster
    is created, and `build` registers its resources in the same run.
    """

    def run(_: str) -> None:
        build()

    pulumi.Output.from_input(kubeconfig).apply(run)


def _cluster_platform(
    config: PlatformConfig, cluster_name: str, kubeconfig: pulumi.Input[str], egress: list[EgressDestination]
) -> ClusterPlatform:
    render_to = config.kubernetes.render_to
    provider = kubernetes.Provider(
        f"{cluster_name}-k8s",
        # From the cluster component's outputs, never from ~/.kube or KUBECONFIG: on the
        # first `pulumi up` it is unknown at preview, and the provider then defers its
        # objects' diffs until the cluster exists.
        kubeconfig=kubeconfig,
        # Only a new cluster replaces the provider (and with it every object); a changed
        # kubeconfig (a rotated CA, a new endpoint form) updates it in place.
        cluster_identifier=cluster_name,
        # GitOps mode: write the manifests for Argo CD instead of applying them.
        render_yaml_to_directory=f"{render_to}/{cluster_name}" if render_to else None,
    )
    on_cluster = pulumi.ResourceOptions(provider=provider)
    namespaces = {
        name: WorkloadNamespace(
            f"{cluster_name}-{name}",
            WorkloadNamespaceArgs(
                namespace=name,
                pod_security=namespace.pod_security,
                pod_security_reason=namespace.pod_security_reason,
                egress_destinations=egress,
                labels={"project": config.name, "environment": config.environment},
            ),
            opts=on_cluster,
        )
        for name, namespace in config.kubernetes.namespaces.items()
    }
    return ClusterPlatform(cluster_name, provider, namespaces)
