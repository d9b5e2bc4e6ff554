"""The Kubernetes layer on both clusters: one explicit provider each, then the platform
services every workload needs, from the same components on EKS and GKE.

What differs between the clusters arrives as arguments: the kubeconfig (EKS: `aws eks
get-token`; GKE: `gke-gcloud-auth-plugin`), which data stores each cluster's pods reach
(EKS: RDS and Redis in the AWS private subnets; GKE: the Cloud SQL replica in the
private-services range), how identities map (EKS access entries; GKE Google Groups for
RBAC and project IAM), and which add-ons the cluster lacks (GKE ships its own).

Helm charts wait for the cluster's kubeconfig: a `helm.v4.Chart` renders at preview and
fails while its provider's kubeconfig is unknown (pulumi-kubernetes issue 3027, open),
which it is on a stack's first `pulumi up`. So the charts are registered once the
kubeconfig is known (`_once_cluster_exists`): the first preview of a new stack does not
list them and its update installs them; every later preview shows them in full. Plain
objects (namespaces, policies, RBAC) need no cluster at preview and are always listed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.eks.access import EksAccess
from components.gcp.gke_access import GkeAccess
from components.kubernetes.cluster_addons import ClusterAddons, ClusterAddonsArgs, LoadBalancerControllerSpec
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
    """One cluster's Kubernetes layer: its provider, kubeconfig and workload namespaces."""

    cluster_name: str
    provider: kubernetes.Provider
    kubeconfig: pulumi.Input[str]
    namespaces: dict[str, WorkloadNamespace]


def build_kubernetes(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    aws_provider: pulumi.ProviderResource,
    gcp_provider: pulumi.ProviderResource,
) -> list[ClusterPlatform]:
    """Both clusters' Kubernetes layers, EKS first. The cloud providers serve what each
    cluster needs on its cloud's side (access entries, project IAM, add-ons' IRSA roles)."""
    prefix = config.resource_prefix
    private_subnets = [str(cidr) for cidr in config.aws.subnet_plan().private]
    eks = _cluster_platform(
        config,
        # EksCluster names the cluster after its component name (aws_platform.py).
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
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])
    EksAccess(f"{prefix}-eks-access", eks_access_args(config, primary.cluster.cluster_name), opts=on_aws)
    GkeAccess(f"{prefix}-gke-access", gke_access_args(config), opts=pulumi.ResourceOptions(providers=[gcp_provider]))
    _namespace_access(eks, eks_namespace_access_args(config, depends_on=list(eks.namespaces.values())))
    _namespace_access(gke, gke_namespace_access_args(config, depends_on=list(gke.namespaces.values())))

    # EKS runs all three add-ons: VPA's recommender, the Load Balancer Controller (the
    # ingress NLB's controller) and metrics-server (EKS ships none; HPAs need it). GKE runs
    # none of these charts: Google's own VPA is enabled on the cluster (managed and upgraded
    # with the control plane; an open-source VPA beside it would fight over the same CRDs),
    # GKE ships metrics-server, and its load balancers are GKE's own controllers. GKE's VPA
    # also runs an updater, so there recommendation mode is each VPA object's `updateMode: Off`.
    _once_cluster_exists(
        eks,
        lambda: ClusterAddons(
            f"{eks.cluster_name}-addons",
            ClusterAddonsArgs(
                cluster_name=eks.cluster_name,
                metrics_server=True,
                load_balancer_controller=LoadBalancerControllerSpec(
                    region=config.aws_region, vpc_id=primary.network.vpc_id, oidc=primary.cluster.oidc_identity
                ),
            ),
            opts=pulumi.ResourceOptions(providers=[eks.provider, aws_provider]),
        ),
    )
    return [eks, gke]


def _once_cluster_exists(cluster: ClusterPlatform, register: Callable[[], object]) -> None:
    """Register `register()`'s resources once the cluster's kubeconfig is known (see the
    module docstring: helm.v4.Chart cannot preview against a cluster that does not exist)."""
    pulumi.Output.from_input(cluster.kubeconfig).apply(lambda _: register())


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
    return ClusterPlatform(cluster_name, provider, kubeconfig, namespaces)
