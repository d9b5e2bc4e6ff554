"""The Kubernetes layer on both clusters: one explicit provider each, then the platform
services every workload needs, from the same components on EKS and GKE.

What differs between the clusters arrives as arguments: the kubeconfig (EKS: `aws eks
get-token`; GKE: `gke-gcloud-auth-plugin`), and which data stores each cluster's pods
reach (EKS: RDS and Redis in the AWS private subnets; GKE: the Cloud SQL replica in the
private-services range).
"""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.eks.access import EksAccess
from components.gcp.gke_access import GkeAccess
from components.kubernetes.namespace_access import NamespaceAccess, NamespaceAccessArgs
from components.kubernetes.workload_namespace import EgressDestination, WorkloadNamespace, WorkloadNamespaceArgs
from stacks.access_args import eks_access_args, eks_namespace_access_args, gke_access_args, gke_namespace_access_args
from stacks.aws_platform import AwsPrimary
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary

POSTGRES_PORT = 5432
REDIS_PORT = 6379


@dataclass
class ClusterPlatform:
    """One cluster's Kubernetes layer: its provider and its workload namespaces."""

    cluster_name: str
    provider: kubernetes.Provider
    namespaces: dict[str, WorkloadNamespace]


def build_kubernetes(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    on_aws: pulumi.ResourceOptions,
    on_gcp: pulumi.ResourceOptions,
) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first. `on_aws`/`on_gcp` carry the cloud
    providers for the identities each cluster maps (access entries, project IAM)."""
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
    # Who may read and who deploys: EKS maps IAM roles through access entries, GKE Google
    # Groups and service accounts through project IAM (credentials only) and RBAC.
    EksAccess(f"{prefix}-eks-access", eks_access_args(config, primary.cluster.cluster_name), opts=on_aws)
    GkeAccess(f"{prefix}-gke-access", gke_access_args(config), opts=on_gcp)
    _namespace_access(eks, eks_namespace_access_args(config, depends_on=list(eks.namespaces.values())))
    _namespace_access(gke, gke_namespace_access_args(config, depends_on=list(gke.namespaces.values())))
    return [eks, gke]


def _namespace_access(cluster: ClusterPlatform, args: NamespaceAccessArgs) -> None:
    if args.namespaces:
        NamespaceAccess(f"{cluster.cluster_name}-rbac", args, opts=pulumi.ResourceOptions(provider=cluster.provider))


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
