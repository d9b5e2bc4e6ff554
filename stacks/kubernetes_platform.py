"""The Kubernetes layer on both clusters: one explicit provider each, then the platform
services every workload needs, from the same components on EKS and GKE.

What differs between the clusters arrives as arguments: the kubeconfig (EKS: `aws eks
get-token`; GKE: `gke-gcloud-auth-plugin`), which data stores each cluster's pods reach
(EKS: RDS and Redis in the AWS private subnets; GKE: the Cloud SQL replica in the
private-services range, and RDS and Redis across the VPN), how identities map (EKS access
entries; GKE Google Groups for RBAC and project IAM), which cloud secret store External
Secrets reads as which identity, for the platform and for the workloads
(`stacks/kubernetes_identities.py`), and which add-ons the cluster lacks (GKE ships its own).

The platform services inside each cluster (External Secrets, cert-manager, the add-ons,
the mesh and the ingress gateway) are registered by `stacks/cluster_services.py` once the
cluster exists.
"""

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.eks.access import EksAccess
from components.aws.monitoring_credentials import MonitoringCredentials, MonitoringCredentialsArgs
from components.gcp.gke_access import GkeAccess
from components.kubernetes._exporter_values import PostgresTarget, RedisTarget
from components.kubernetes.cluster_addons import ClusterAddons, ClusterAddonsArgs, LoadBalancerControllerSpec
from components.kubernetes.external_secrets import AwsSecretStore
from components.kubernetes.ingress_gateway import (
    AwsNlb,
    GkeStaticAddress,
)
from components.kubernetes.istio_mesh import Platform
from components.kubernetes.namespace_access import NamespaceAccess, NamespaceAccessArgs
from components.kubernetes.workload_namespace import EgressDestination, WorkloadNamespace, WorkloadNamespaceArgs
from components.multicloud.workload_secrets import WorkloadSecrets
from stacks.access_args import eks_access_args, eks_namespace_access_args, gke_access_args, gke_namespace_access_args
from stacks.aws_platform import AwsPrimary, application_database, backup_role, monitoring_role
from stacks.cluster_services import ClusterPlatform, platform_services
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary
from stacks.images import eks_images, gke_images
from stacks.kubernetes_identities import platform_secret_readers, workload_secret_access
from stacks.observability import DataStoreMonitoring, PostgresBackups, cross_cloud_views

POSTGRES_PORT = 5432
REDIS_PORT = 6379


def build_kubernetes(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    aws_provider: pulumi.ProviderResource,
    gcp_provider: pulumi.ProviderResource,
    random_provider: pulumi.ProviderResource,
    edge_source_ranges: pulumi.Input[list[str]],
    workload_secrets: WorkloadSecrets | None,
) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first. The cloud providers serve what each
    cluster needs on its cloud's side (access entries, project IAM, add-ons' IRSA roles);
    `edge_source_ranges` are the addresses the ingress load balancers admit (Cloudflare's);
    `workload_secrets` holds the workloads' connection URLs (None when no workload uses a
    data store)."""
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
        random_provider,
    )
    gke = _cluster_platform(
        config,
        "gke",
        f"{prefix}-gke",
        secondary.cluster.kubeconfig,
        secondary.cluster,
        [
            # Reads: the Cloud SQL replica's private IP comes from the private-services range.
            EgressDestination(
                "postgres",
                [str(config.gcp.network.private_service_access_cidr)],
                POSTGRES_PORT,
                "the Cloud SQL replica in the private-services range",
            ),
            # Writes, sessions and cache: the RDS primary and ElastiCache in the AWS private
            # subnets, across the HA VPN (the pods keep their own IPs, which AWS admits).
            EgressDestination(
                "postgres-primary",
                private_subnets,
                POSTGRES_PORT,
                "the RDS primary in the AWS private subnets, across the VPN",
            ),
            EgressDestination(
                "redis", private_subnets, REDIS_PORT, "ElastiCache Redis in the AWS private subnets, across the VPN"
            ),
        ],
        random_provider,
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
    # The password of the RDS monitoring role postgres-exporter logs in as (created by hand, README).
    monitoring_credentials = MonitoringCredentials(
        f"{prefix}-monitoring-credentials",
        MonitoringCredentialsArgs(
            secret_name=f"{aws_prefix}monitoring/postgres-exporter", protect=config.protect, tags=config.common_tags
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, random_provider]),
    )
    # The password of the RDS role the nightly dump logs in as (pg_read_all_data; created by hand, runbook).
    backup_credentials = MonitoringCredentials(
        f"{prefix}-backup-credentials",
        MonitoringCredentialsArgs(
            secret_name=f"{aws_prefix}backups/postgres-dump",
            description="Password of the PostgreSQL backup role (pg_read_all_data); External Secrets syncs it",
            protect=config.protect,
            tags=config.common_tags,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, random_provider]),
    )
    eks_reader, gke_reader, gke_store = platform_secret_readers(
        config, primary, secondary, aws_prefix, gcp_prefix, [monitoring_credentials, backup_credentials]
    )
    backup_accounts = config.aws.backups.service_account
    eks_workloads, gke_workloads = workload_secret_access(config, primary, secondary, workload_secrets)
    # Both clouds in one Grafana (stacks/observability.py).
    views = cross_cloud_views(config, secondary.network.monitoring_address)
    eks.gateway_ready = platform_services(
        config,
        eks,
        AwsSecretStore(region=config.aws_region, role_arn=eks_reader.role_arn),
        eks_reader,
        aws_prefix,
        eks_workloads,
        # The NLB on the public subnets, each with its AZ's reserved Elastic IP (the
        # aws-primary pool's origins), both lists in AZ order.
        AwsNlb(
            subnet_ids=primary.network.public_subnet_ids,
            allocation_ids=[primary.network.ingress_allocation_ids[zone] for zone in config.aws.availability_zones],
        ),
        edge_source_ranges,
        # Each EKS workload's tag resolved to its digest in the stack's ECR (stacks/images.py).
        images=eks_images(config, primary, aws_provider),
        view=views["eks"],
        # The exporters beside the data stores they watch.
        data_stores=DataStoreMonitoring(
            postgres=PostgresTarget(
                host=primary.database.address,
                port=primary.database.port,
                database=application_database(config),
                user=monitoring_role(config),
                password_remote_key=monitoring_credentials.secret_name,
                ca_certificate=config.rds_ca_certificate,
            ),
            redis=RedisTarget(
                host=primary.cache.primary_endpoint,
                port=primary.cache.port,
                auth_token_remote_key=primary.cache.auth_token_secret_arn,
            ),
            after=[monitoring_credentials.version],
            # RDS exists in every stack, so every stack dumps it and drills the restore.
            backups=PostgresBackups(
                target=PostgresTarget(
                    host=primary.database.address,
                    port=primary.database.port,
                    database=application_database(config),
                    user=backup_role(config),
                    password_remote_key=backup_credentials.secret_name,
                    ca_certificate=config.rds_ca_certificate,
                ),
                engine_major_version=config.aws.rds.engine_major_version,
                bucket_name=primary.backup_bucket.bucket_name,
                writer_role_arn=primary.backup_writer.role_arn,
                reader_role_arn=primary.backup_reader.role_arn,
                region=config.aws_region,
                database_cidrs=private_subnets,
                namespace=backup_accounts.namespace,
                dump_service_account=backup_accounts.name,
                drill_service_account=backup_accounts.drill_name,
                after=[backup_credentials.version],
            ),
        ),
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
    gke.gateway_ready = platform_services(
        config,
        gke,
        gke_store,
        gke_reader,
        gcp_prefix,
        gke_workloads,
        # The reserved regional address (the gcp-secondary pool's origin), claimed by name.
        GkeStaticAddress(address_name=secondary.network.ingress_address_name),
        edge_source_ranges,
        # Each GKE workload's tag resolved to its digest in the stack's Artifact Registry.
        images=gke_images(config, secondary, gcp_provider),
        view=views["gke"],
    )
    return [eks, gke]


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
    random_provider: pulumi.ProviderResource,
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
    return ClusterPlatform(platform, cluster_name, provider, random_provider, kubeconfig, namespaces)
