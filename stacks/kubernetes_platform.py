"""The Kubernetes layer on both clusters: one explicit provider each, then the platform
services every workload needs, from the same components on EKS and GKE.

What differs between the clusters arrives as arguments: the kubeconfig (EKS: `aws eks
get-token`; GKE: `gke-gcloud-auth-plugin`), which data stores each cluster's pods reach
(EKS: RDS and Redis in the AWS private subnets; GKE: the Cloud SQL replica in the
private-services range), how identities map (EKS access entries; GKE Google Groups for
RBAC and project IAM), which cloud secret store External Secrets reads as which identity
(`stacks/kubernetes_identities.py`), and which add-ons the cluster lacks (GKE ships its own).

The first `pulumi up` (pulumi-kubernetes issue 3027, open): a helm.v4.Chart is rendered
by the provider itself, and while the cluster does not exist the provider's kubeconfig is
unknown; the Chart's preview then fails ("failed to parse kubeconfig data") instead of
being deferred like a plain object's. So the charts and the custom resources that need
their CRDs are registered once the cluster's kubeconfig is known (`_once_cluster_exists`):
the first preview of a new stack shows the clusters, the namespaces, their policies, RBAC
and the cloud identities, not the charts; `pulumi up` creates the cluster, then the charts
and their resources in the same run. Every later preview shows them in full.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.eks.access import EksAccess
from components.gcp.gke_access import GkeAccess
from components.kubernetes.cert_manager import CertManager, CertManagerArgs
from components.kubernetes.cluster_addons import ClusterAddons, ClusterAddonsArgs, LoadBalancerControllerSpec
from components.kubernetes.external_secrets import AwsSecretStore, ExternalSecrets, ExternalSecretsArgs, GcpSecretStore
from components.kubernetes.ingress_gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.kubernetes.ingress_gateway import (
    SERVICE_ACCOUNT as GATEWAY_SERVICE_ACCOUNT,
)
from components.kubernetes.ingress_gateway import (
    AwsNlb,
    GkeStaticAddress,
    HttpRoute,
    IngressGateway,
    IngressGatewayArgs,
)
from components.kubernetes.istio_mesh import IstioMesh, IstioMeshArgs, Platform
from components.kubernetes.mesh_authorization import MeshAuthorization, MeshAuthorizationArgs, MeshCaller, principal
from components.kubernetes.namespace_access import NamespaceAccess, NamespaceAccessArgs
from components.kubernetes.workload_namespace import EgressDestination, WorkloadNamespace, WorkloadNamespaceArgs
from stacks.access_args import eks_access_args, eks_namespace_access_args, gke_access_args, gke_namespace_access_args
from stacks.aws_platform import AwsPrimary
from stacks.config.certificates import cloudflare_origin_pull_ca
from stacks.config.ingress_models import clusters_serving
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary
from stacks.kubernetes_identities import eks_secrets_reader, gke_secrets_reader

T = TypeVar("T")
POSTGRES_PORT = 5432
REDIS_PORT = 6379
# The cert-manager DNS-01 token's name in each cloud's secret store, after the platform's
# prefix. The operator stores it there before the first `pulumi up` (a Cloudflare API
# token with Zone:DNS:Edit on the zone only); the program never sees its value.
CLOUDFLARE_TOKEN_SECRET = "cloudflare-dns-token"


@dataclass
class ClusterPlatform:
    """One cluster's Kubernetes layer: its provider, kubeconfig and workload namespaces."""

    platform: Platform
    cluster_name: str
    provider: kubernetes.Provider
    kubeconfig: pulumi.Input[str]
    namespaces: dict[str, WorkloadNamespace]
    gateway_service: pulumi.Output[kubernetes.core.v1.Service] | None = None
    """The ingress gateway's LoadBalancer Service, once the cluster exists (the front door waits for it)."""


def build_kubernetes(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    aws_provider: pulumi.ProviderResource,
    gcp_provider: pulumi.ProviderResource,
    edge_source_ranges: pulumi.Input[list[str]],
) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first. The cloud providers serve what each
    cluster needs on its cloud's side (access entries, project IAM, add-ons' IRSA roles);
    `edge_source_ranges` are the addresses the ingress load balancers admit (Cloudflare's)."""
    prefix = config.resource_prefix
    private_subnets = [str(cidr) for cidr in config.aws.subnet_plan().private]
    eks = _cluster_platform(
        config,
        "eks",
        # EksCluster names the cluster after its component name (aws_platform.py).
        f"{prefix}-eks",
        primary.cluster.kubeconfig,
        primary.cluster,
        # RDS and ElastiCache live in the private subnets (their subnet groups).
        [
            EgressDestination("postgres", private_subnets, POSTGRES_PORT, "the RDS primary in the private subnets"),
            EgressDestination("redis", private_subnets, REDIS_PORT, "ElastiCache Redis in the private subnets"),
        ],
    )
    gke = _cluster_platform(
        config,
        "gke",
        f"{prefix}-gke",
        secondary.cluster.kubeconfig,
        secondary.cluster,
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

    # Who may read and who deploys: EKS maps IAM roles through access entries, GKE Google
    # Groups and service accounts through project IAM (credentials only) and RBAC.
    EksAccess(
        f"{prefix}-eks-access",
        eks_access_args(config, primary.cluster.cluster_name),
        opts=pulumi.ResourceOptions(providers=[aws_provider]),
    )
    GkeAccess(f"{prefix}-gke-access", gke_access_args(config), opts=pulumi.ResourceOptions(providers=[gcp_provider]))
    _namespace_access(eks, eks_namespace_access_args(config, depends_on=list(eks.namespaces.values())))
    _namespace_access(gke, gke_namespace_access_args(config, depends_on=list(gke.namespaces.values())))

    # The platform's own secrets: Secrets Manager names under `<prefix>/`, Secret Manager
    # ids under `<prefix>-` (Secret Manager ids allow no slash).
    aws_prefix, gcp_prefix = f"{prefix}/", f"{prefix}-"
    eks_reader = eks_secrets_reader(prefix, aws_prefix, primary)
    gke_reader, gke_store = gke_secrets_reader(config, prefix, gcp_prefix, secondary)
    eks.gateway_service = _platform_services(
        config,
        eks,
        AwsSecretStore(region=config.aws_region, role_arn=eks_reader.role_arn),
        eks_reader,
        f"{aws_prefix}{CLOUDFLARE_TOKEN_SECRET}",
        # The NLB on the public subnets, each with its AZ's reserved Elastic IP (the
        # aws-primary pool's origins), both lists in AZ order.
        AwsNlb(
            subnet_ids=primary.network.public_subnet_ids,
            allocation_ids=[primary.network.ingress_allocation_ids[zone] for zone in config.aws.availability_zones],
        ),
        edge_source_ranges,
        # EKS also runs VPA's recommender, the Load Balancer Controller (the ingress NLB's
        # controller) and metrics-server (EKS ships none; HPAs need it).
        addons=lambda after: ClusterAddons(
            f"{eks.cluster_name}-addons",
            ClusterAddonsArgs(
                cluster_name=eks.cluster_name,
                metrics_server=True,
                load_balancer_controller=LoadBalancerControllerSpec(
                    region=config.aws_region,
                    vpc_id=primary.network.vpc_id,
                    oidc=primary.cluster.oidc_identity,
                    # Its webhook certificate comes from cert-manager (enableCertManager).
                    after=after,
                ),
            ),
            opts=pulumi.ResourceOptions(providers=[eks.provider, aws_provider]),
        ),
    )
    # GKE runs none of the add-on charts: Google's own VPA is enabled on the cluster
    # (managed and upgraded with the control plane; an open-source VPA beside it would
    # fight over the same CRDs), GKE ships metrics-server, and its load balancers are GKE's
    # own controllers. GKE's VPA also runs an updater, so there recommendation mode is each
    # VPA object's `updateMode: Off`.
    gke.gateway_service = _platform_services(
        config,
        gke,
        gke_store,
        gke_reader,
        f"{gcp_prefix}{CLOUDFLARE_TOKEN_SECRET}",
        # The reserved regional address (the gcp-secondary pool's origin), claimed by name.
        GkeStaticAddress(address_name=secondary.network.ingress_address_name),
        edge_source_ranges,
    )
    return [eks, gke]


def _platform_services(
    config: PlatformConfig,
    cluster: ClusterPlatform,
    store: AwsSecretStore | GcpSecretStore,
    reader: pulumi.Resource,
    token_remote_key: str,
    load_balancer: AwsNlb | GkeStaticAddress,
    edge_source_ranges: pulumi.Input[list[str]],
    addons: Callable[[list[pulumi.Resource]], ClusterAddons] | None = None,
) -> pulumi.Output[kubernetes.core.v1.Service]:
    """External Secrets, cert-manager, the cluster's add-ons, the mesh and the ingress
    gateway, once its kubeconfig is known. Returns the gateway's Service."""
    highly_available = config.kubernetes.high_availability
    replicas = 2 if highly_available else 1
    labels = {"project": config.name, "environment": config.environment}
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)

    def build() -> kubernetes.core.v1.Service:
        secrets = ExternalSecrets(
            f"{cluster.cluster_name}-external-secrets",
            ExternalSecretsArgs(cloud=store, replicas=replicas, labels=labels),
            # The identity with its policies and bindings, not just its name: the operator's
            # first read is then never refused for a grant still being attached.
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[reader])),
        )
        cert_manager = CertManager(
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
        # The Load Balancer Controller's Service webhook must answer before the gateway's
        # Service is written: the gateway waits for the add-ons.
        cluster_addons = [addons([cert_manager])] if addons is not None else []
        mesh = IstioMesh(
            f"{cluster.cluster_name}-mesh",
            IstioMeshArgs(platform=cluster.platform, high_availability=highly_available, labels=labels),
            opts=on_cluster,
        )
        gateway = IngressGateway(
            f"{cluster.cluster_name}-ingress",
            _gateway_args(config, cluster.platform, load_balancer, edge_source_ranges, cert_manager, mesh, labels),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=cluster_addons)),
        )
        gateway_principal = principal(GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT)
        for name, namespace in config.kubernetes.namespaces.items():
            MeshAuthorization(
                f"{cluster.cluster_name}-{name}-authorization",
                MeshAuthorizationArgs(
                    namespace=cluster.namespaces[name].namespace,
                    ingress_principals=[gateway_principal],
                    callers=[
                        MeshCaller(caller.namespace, caller.service_account, tuple(caller.methods))
                        for caller in namespace.mesh_callers
                    ],
                    after=[mesh.control_plane],
                ),
                opts=on_cluster,
            )
        return gateway.service

    return _once_cluster_exists(cluster.kubeconfig, build)


def _gateway_args(
    config: PlatformConfig,
    platform: Platform,
    load_balancer: AwsNlb | GkeStaticAddress,
    edge_source_ranges: pulumi.Input[list[str]],
    cert_manager: CertManager,
    mesh: IstioMesh,
    labels: dict[str, str],
) -> IngressGatewayArgs:
    """The gateway of one cluster: the hostnames whose load balancers have its cloud's pool."""
    cloudflare = config.cloudflare
    routes = {
        hostname: [_http_route(config, route.path_prefix, route.service) for route in host_routes]
        for hostname, host_routes in config.kubernetes.ingress.routes.items()
        if platform in clusters_serving(cloudflare, hostname)
    }
    return IngressGatewayArgs(
        load_balancer=load_balancer,
        source_ranges=edge_source_ranges,
        routes=routes,
        issuer=cert_manager.default_issuer,
        client_ca_pem=cloudflare_origin_pull_ca(),
        # The front door's monitor probes every origin with this Host header and path.
        health_host=cloudflare.monitor_host,
        health_path=cloudflare.monitor.path,
        # One gateway pod per zone in HA tiers, so a zone loss leaves two serving.
        min_replicas=3 if config.kubernetes.high_availability else 1,
        mesh=[mesh.control_plane],
        labels=labels,
    )


def _http_route(config: PlatformConfig, path_prefix: str, service_ref: str) -> HttpRoute:
    """A configured route to `<namespace>/<service>`, with the port the namespace declares for it."""
    namespace, _, service = service_ref.partition("/")
    port = config.kubernetes.namespaces[namespace].services[service].port
    return HttpRoute(path_prefix=path_prefix, namespace=namespace, service=service, port=port)


def _once_cluster_exists(kubeconfig: pulumi.Input[str], build: Callable[[], T]) -> pulumi.Output[T]:
    """Run `build` once the cluster's kubeconfig is known (pulumi-kubernetes issue 3027).

    At a preview before the cluster exists the kubeconfig is unknown: `build` does not
    run. At `pulumi up` the kubeconfig resolves once the cluster is created, and `build`
    registers its resources in the same run. The result carries what `build` returns.
    """
    return pulumi.Output.from_input(kubeconfig).apply(lambda _: build())


def _namespace_access(cluster: ClusterPlatform, args: NamespaceAccessArgs) -> None:
    if args.namespaces:
        NamespaceAccess(f"{cluster.cluster_name}-rbac", args, opts=pulumi.ResourceOptions(provider=cluster.provider))


def _cluster_platform(
    config: PlatformConfig,
    platform: Platform,
    cluster_name: str,
    kubeconfig: pulumi.Input[str],
    cluster: pulumi.ComponentResource,
    egress: list[EgressDestination],
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
        # The whole cluster component, not just what the kubeconfig reads: the control plane
        # answers before the admin access entry (EKS grants its creator nothing), the node
        # groups and the core add-ons exist, and the first objects would be refused or the
        # charts' pods left unscheduled.
        opts=pulumi.ResourceOptions(depends_on=[cluster]),
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
    return ClusterPlatform(platform, cluster_name, provider, kubeconfig, namespaces)
