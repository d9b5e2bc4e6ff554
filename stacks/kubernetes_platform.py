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

from components.kubernetes.cluster_addons import ClusterAddons, ClusterAddonsArgs, LoadBalancerControllerSpec
from components.kubernetes.workload_namespace import EgressDestination, WorkloadNamespace, WorkloadNamespaceArgs
from stacks.aws_platform import AwsPrimary
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary

POSTGRES_PORT = 5432
REDIS_PORT = 6379


@dataclass
class ClusterPlatform:
    """One cluster's Kubernetes layer: its provider, its workload namespaces and its add-ons."""

    cluster_name: str
    provider: kubernetes.Provider
    namespaces: dict[str, WorkloadNamespace]
    addons: ClusterAddons | None


def build_kubernetes(
    config: PlatformConfig, primary: AwsPrimary, secondary: GcpSecondary, aws_provider: pulumi.ProviderResource
) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first. `aws_provider` serves the AWS side of
    EKS add-ons (the Load Balancer Controller's IRSA role)."""
    prefix = config.resource_prefix
    private_subnets = [str(cidr) for cidr in config.aws.subnet_plan().private]
    eks_name = f"{prefix}-eks"
    eks = _cluster_platform(
        config,
        eks_name,
        primary.cluster.kubeconfig,
        # RDS and ElastiCache live in the private subnets (their subnet groups).
        [
            EgressDestination("postgres", private_subnets, POSTGRES_PORT, "the RDS primary in the private subnets"),
            EgressDestination("redis", private_subnets, REDIS_PORT, "ElastiCache Redis in the private subnets"),
        ],
    )
    # EKS runs all three add-ons: VPA's recommender, the Load Balancer Controller (the
    # ingress NLB's controller) and metrics-server (EKS ships none; HPAs need it).
    eks.addons = ClusterAddons(
        f"{eks_name}-addons",
        ClusterAddonsArgs(
            # EksCluster names the cluster after its component name (aws_platform.py).
            cluster_name=eks_name,
            metrics_server=True,
            load_balancer_controller=LoadBalancerControllerSpec(
                region=config.aws_region, vpc_id=primary.network.vpc_id, oidc=primary.cluster.oidc_identity
            ),
        ),
        opts=pulumi.ResourceOptions(providers=[eks.provider, aws_provider]),
    )
    # GKE runs none of these charts: Google's own VPA is enabled on the cluster (managed
    # with the control plane, upgraded with it; same autoscaling.k8s.io/v1 objects as on
    # EKS, and an open-source VPA beside it would fight over the same CRDs), GKE ships
    # metrics-server, and its load balancers are GKE's own controllers. GKE's VPA also
    # runs an updater, so there recommendation mode is each VPA object's `updateMode: Off`.
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
    return [eks, gke]


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
    return ClusterPlatform(cluster_name, provider, namespaces, addons=None)
