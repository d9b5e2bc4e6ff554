"""The platform services inside one cluster: External Secrets, cert-manager, the cluster's
add-ons, the Istio mesh, the ingress gateway and each workload namespace's mesh
authorization. The same function runs for EKS and GKE; what differs arrives as arguments.

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
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._rollout_specs import edge_virtual_service_name
from components.kubernetes.cert_manager import CertManager, CertManagerArgs
from components.kubernetes.cluster_addons import ClusterAddons
from components.kubernetes.external_secrets import (
    WORKLOAD_SERVICE_ACCOUNT,
    WORKLOAD_STORE_NAME,
    AwsSecretStore,
    ExternalSecrets,
    ExternalSecretsArgs,
    GcpSecretStore,
    ScopedStore,
)
from components.kubernetes.ingress_gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.kubernetes.ingress_gateway import SERVICE_ACCOUNT as GATEWAY_SERVICE_ACCOUNT
from components.kubernetes.ingress_gateway import (
    AwsNlb,
    GkeStaticAddress,
    HttpRoute,
    IngressGateway,
    IngressGatewayArgs,
)
from components.kubernetes.istio_mesh import IstioMesh, IstioMeshArgs, Platform
from components.kubernetes.mesh_authorization import MeshAuthorization, MeshAuthorizationArgs, MeshCaller, principal
from components.kubernetes.monitoring_stack import NAMESPACE as MONITORING_NAMESPACE
from components.kubernetes.progressive_delivery import ProgressiveDelivery, ProgressiveDeliveryArgs
from components.kubernetes.workload_namespace import WorkloadNamespace
from stacks.config.certificates import cloudflare_origin_pull_ca
from stacks.config.ingress_models import clusters_serving
from stacks.config.models import PlatformConfig
from stacks.observability import CrossCloudView, DataStoreMonitoring, build_observability
from stacks.workloads import ClusterWorkloadContext, build_workloads

T = TypeVar("T")
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
    random_provider: pulumi.ProviderResource
    """The random provider (generated passwords: the log writer's, Kibana's)."""
    kubeconfig: pulumi.Input[str]
    namespaces: dict[str, WorkloadNamespace]
    gateway_ready: list[pulumi.Output[pulumi.Resource]] = field(default_factory=list)
    """What makes the ingress gateway answer, once the cluster exists: its LoadBalancer Service and its
    certificate. The front door waits for them."""


@dataclass
class WorkloadSecretAccess:
    """How one cluster's workloads get their secrets: the `workload-secrets` store's identity
    and what each workload reads through it."""

    cloud: AwsSecretStore | GcpSecretStore
    """Required: the cloud secret store, read as the workloads' own identity."""
    reader: pulumi.Resource
    """Required: that identity with its grants (the operator waits for them)."""
    secrets: dict[str, dict[str, str]]
    """Required: workload -> environment variable -> the key in the store (may be empty)."""
    values: list[pulumi.Resource] = field(default_factory=list)
    """The secret versions holding those keys; the workloads wait for them, so an ExternalSecret's
    first sync finds its value. Default none."""
    ca_certificates: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """CA file name -> PEM of the database servers the URLs name (their `sslrootcert`). Default none."""


def platform_services(
    config: PlatformConfig,
    cluster: ClusterPlatform,
    store: AwsSecretStore | GcpSecretStore,
    reader: pulumi.Resource,
    secret_prefix: str,
    workload_secrets: WorkloadSecretAccess,
    load_balancer: AwsNlb | GkeStaticAddress,
    edge_source_ranges: pulumi.Input[list[str]],
    images: dict[str, pulumi.Input[str]],
    view: CrossCloudView,
    data_stores: DataStoreMonitoring | None = None,
    addons: Callable[[list[pulumi.Resource]], ClusterAddons] | None = None,
) -> list[pulumi.Output[pulumi.Resource]]:
    """External Secrets, cert-manager, the cluster's add-ons, the mesh and the ingress
    gateway, once its kubeconfig is known. Returns what makes the gateway answer (its
    Service and certificate), one Output each (depends_on takes resources, not lists)."""
    highly_available = config.kubernetes.high_availability
    replicas = 2 if highly_available else 1
    labels = {"project": config.name, "environment": config.environment}
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)

    backups = data_stores.backups if data_stores is not None else None
    backup_namespaces = [backups.namespace] if backups is not None else []

    def build() -> tuple[pulumi.Resource, pulumi.Resource]:
        secrets = ExternalSecrets(
            f"{cluster.cluster_name}-external-secrets",
            ExternalSecretsArgs(
                cloud=store,
                replicas=replicas,
                # cert-manager's DNS token; Grafana's admin and the Alertmanager receivers' credentials;
                # on EKS the backup job's database password.
                store_namespaces=["cert-manager", MONITORING_NAMESPACE, *backup_namespaces],
                # The workloads' store, served to the workload namespaces only and read as an
                # identity that reaches the workloads' secrets and nothing of the platform's.
                scoped_stores=[
                    ScopedStore(
                        name=WORKLOAD_STORE_NAME,
                        service_account=WORKLOAD_SERVICE_ACCOUNT,
                        cloud=workload_secrets.cloud,
                        namespaces=tuple(sorted(cluster.namespaces)),
                    )
                ],
                labels=labels,
            ),
            # The identities with their policies and bindings, not just their names: the
            # operator's first read is then never refused for a grant still being attached.
            opts=pulumi.ResourceOptions.merge(
                on_cluster,
                pulumi.ResourceOptions(depends_on=[reader, workload_secrets.reader]),
            ),
        )
        cert_manager = CertManager(
            f"{cluster.cluster_name}-cert-manager",
            CertManagerArgs(
                zone=config.cloudflare.zone,
                secret_store_name=secrets.store_name,
                token_remote_key=f"{secret_prefix}{CLOUDFLARE_TOKEN_SECRET}",
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
        # Argo Rollouts on every cluster (the HEAL7 design's deploy-strategy.sh, continuous):
        # the Rollouts and AnalysisTemplates of canary and blueGreen workloads need its CRDs.
        rollouts = ProgressiveDelivery(
            f"{cluster.cluster_name}-rollouts",
            ProgressiveDeliveryArgs(high_availability=highly_available, labels=labels),
            opts=on_cluster,
        )
        # The workloads: the injector fills in their proxies; their VPAs need the VPA CRDs
        # (the add-on chart on EKS, GKE's own VPA).
        build_workloads(
            config,
            cluster.cluster_name,
            ClusterWorkloadContext(
                cluster=cluster.platform,
                images=images,
                namespaces={name: namespace.namespace for name, namespace in cluster.namespaces.items()},
                secrets=workload_secrets.secrets,
                secret_store=secrets.store_names[WORKLOAD_STORE_NAME],
                ca_certificates=workload_secrets.ca_certificates,
                # The ExternalSecrets are written once the values they name exist.
                after=[mesh.control_plane, *cluster_addons, *workload_secrets.values],
                rollouts=[rollouts.ready],
            ),
            on_cluster,
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
        build_observability(
            config,
            cluster.cluster_name,
            cluster.platform,
            secret_store_name=secrets.store_name,
            secret_prefix=secret_prefix,
            view=view,
            data_stores=data_stores,
            # cert-manager issues the operator's webhook and the adapter's APIService certificates.
            after=[cert_manager],
            opts=pulumi.ResourceOptions(providers=[cluster.provider, cluster.random_provider]),
        )
        return gateway.service, gateway.certificate

    ready = _once_cluster_exists(cluster.kubeconfig, build)
    return [ready.apply(lambda both: both[0]), ready.apply(lambda both: both[1])]


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
        # Production in every tier, dev included: Cloudflare's Full (strict) mode and its
        # monitor accept only a publicly trusted chain, and Let's Encrypt's staging roots are
        # in no trust store. (Its limit of 5 duplicate certificates a week per name set is
        # far off: the two clusters' sets differ, and renewals come every 60 days.)
        issuer=cert_manager.issuers["production"],
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
    """A configured route to `<namespace>/<workload>`: the workload's Service and port."""
    namespace, _, service = service_ref.partition("/")
    workload = config.workloads[service]
    # A canary workload's paths go to its edge delegate, whose weights the Rollout moves.
    delegate = edge_virtual_service_name(service) if workload.delivery.strategy == "canary" else None
    return HttpRoute(
        path_prefix=path_prefix, namespace=namespace, service=service, port=workload.port, delegate=delegate
    )


def _once_cluster_exists(kubeconfig: pulumi.Input[str], build: Callable[[], T]) -> pulumi.Output[T]:
    """Run `build` once the cluster's kubeconfig is known (pulumi-kubernetes issue 3027).

    At a preview before the cluster exists the kubeconfig is unknown: `build` does not
    run. At `pulumi up` the kubeconfig resolves once the cluster is created, and `build`
    registers its resources in the same run. The result carries what `build` returns.
    """
    return pulumi.Output.from_input(kubeconfig).apply(lambda _: build())
