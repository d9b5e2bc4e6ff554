"""ClusterAddons: the cluster services every workload leans on, from pinned charts.

- The Vertical Pod Autoscaler (recommender only) in its own `vertical-pod-autoscaler`
  namespace, enforcing the restricted Pod Security level: it needs no privilege, and
  keeping it out of kube-system keeps it under the same admission rules as workloads.
  GKE runs Google's own VPA (enabled on the cluster, see gke_cluster.py), so there the
  chart stays off.
- The AWS Load Balancer Controller (EKS only) in kube-system, the chart's documented
  namespace, with its own IRSA role.
- metrics-server (EKS only: GKE runs its own) in kube-system, the documented namespace
  and the one the metrics.k8s.io APIService is expected in.

Each chart is a `helm.v4.Chart`: every object becomes a Pulumi resource with a real diff,
the policy pack sees it, and GitOps render mode writes it out. v4 skips chart hooks; none
of these charts uses one with the values here (the VPA's certgen jobs are hooks, but they
belong to the admission controller, which is off; the LBC and metrics-server charts have
none), so nothing is lost.
"""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws._context import AwsContext
from components.aws.eks._load_balancer_controller_policy import load_balancer_controller_policy
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs, OidcIdentity
from components.kubernetes._addon_values import (
    LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
    load_balancer_controller_values,
    metrics_server_values,
    vertical_pod_autoscaler_values,
)
from components.kubernetes._charts import (
    AWS_LOAD_BALANCER_CONTROLLER,
    METRICS_SERVER,
    VERTICAL_POD_AUTOSCALER,
    ChartCoordinates,
    install_chart,
    restricted_namespace,
)

KUBE_SYSTEM = "kube-system"
VPA_NAMESPACE = "vertical-pod-autoscaler"
# Release names: the charts' pod labels (`app.kubernetes.io/instance`) carry them, and the
# monitoring's PodMonitors select by them (_scrape_targets.py).
VPA_RELEASE = "vertical-pod-autoscaler"
METRICS_SERVER_RELEASE = "metrics-server"
LOAD_BALANCER_CONTROLLER_RELEASE = "aws-load-balancer-controller"


@dataclass
class LoadBalancerControllerSpec:
    """What the AWS Load Balancer Controller needs to know about its EKS cluster."""

    region: str
    """Required: the cluster's AWS region (the controller's `--aws-region`)."""
    vpc_id: pulumi.Input[str]
    """Required: the cluster's VPC; the controller's load balancers and security groups live there."""
    oidc: OidcIdentity
    """Required: the cluster's IAM OIDC identity, which the controller's IRSA role trusts."""
    replicas: int = 2
    """Controller pods. Default 2, in pods: one leader, one standby that also answers the webhooks."""
    after: list[pulumi.Resource] | None = None
    """Resources the chart waits for. Default none. Pass cert-manager's chart where it runs in
    the same program: the controller's webhook certificate and issuers are cert-manager objects."""


@dataclass
class ClusterAddonsArgs:
    """Inputs of ClusterAddons: which add-ons run on the cluster. Defaults: VPA only."""

    cluster_name: str
    """Required: the cluster's name (the EKS cluster's name where the LBC runs: it tags by it)."""
    vertical_pod_autoscaler: bool = True
    """Run the VPA chart's recommender. Default true; false where the platform has its own (GKE)."""
    metrics_server: bool = False
    """Run metrics-server. Default false (GKE runs its own); EKS sets it."""
    metrics_server_replicas: int = 2
    """metrics-server pods. Default 2, in pods, so HPAs keep their metrics through a drain."""
    load_balancer_controller: LoadBalancerControllerSpec | None = None
    """Run the AWS Load Balancer Controller (EKS only). Default None (not run)."""


class ClusterAddons(pulumi.ComponentResource):
    """The add-on charts of one cluster.

    Takes the cluster's Kubernetes provider and, when the LBC runs, an AWS provider (for
    its IRSA role): `opts=pulumi.ResourceOptions(providers=[kubernetes_provider, aws_provider])`.
    """

    charts: dict[str, ChartCoordinates]
    """The charts this cluster runs, by release name (what `make plan` lists)."""
    load_balancer_controller_role: IrsaRole | None
    """The controller's IRSA role, when it runs."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        if args.metrics_server_replicas < 1:
            raise ValueError(f"ClusterAddons {name}: metrics_server_replicas must be >= 1")
        lbc = args.load_balancer_controller
        if lbc is not None and lbc.replicas < 1:
            raise ValueError(f"ClusterAddons {name}: load_balancer_controller.replicas must be >= 1")
        super().__init__("platform:kubernetes:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.charts = {}
        self.load_balancer_controller_role = None

        if args.vertical_pod_autoscaler:
            # The recommender runs as non-root with no privilege: restricted holds.
            namespace = restricted_namespace(f"{name}-vpa-namespace", VPA_NAMESPACE, {}, child)
            self._chart(
                f"{name}-vpa",
                VPA_RELEASE,
                VERTICAL_POD_AUTOSCALER,
                namespace.metadata.name,
                vertical_pod_autoscaler_values(),
                child,
            )

        if args.metrics_server:
            self._chart(
                f"{name}-metrics-server",
                METRICS_SERVER_RELEASE,
                METRICS_SERVER,
                KUBE_SYSTEM,
                metrics_server_values(args.metrics_server_replicas),
                child,
            )

        if lbc is not None:
            role = IrsaRole(
                f"{name}-lbc",
                IrsaRoleArgs(
                    oidc=lbc.oidc,
                    namespace=KUBE_SYSTEM,
                    service_account=LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
                    inline_policy=load_balancer_controller_policy(AwsContext.of(self), args.cluster_name, lbc.vpc_id),
                ),
                opts=child,
            )
            self.load_balancer_controller_role = role
            self._chart(
                f"{name}-lbc",
                LOAD_BALANCER_CONTROLLER_RELEASE,
                AWS_LOAD_BALANCER_CONTROLLER,
                KUBE_SYSTEM,
                load_balancer_controller_values(args.cluster_name, lbc.region, lbc.vpc_id, role.role_arn, lbc.replicas),
                # The role and its policy exist before the first pod asks STS for them.
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role, *(lbc.after or [])])),
            )

        self.register_outputs(
            {
                "charts": {release: coordinates.version for release, coordinates in self.charts.items()},
                "loadBalancerControllerRoleArn": (
                    self.load_balancer_controller_role.role_arn if self.load_balancer_controller_role else None
                ),
            }
        )

    def _chart(
        self,
        resource_name: str,
        release: str,
        coordinates: ChartCoordinates,
        namespace: pulumi.Input[str],
        values: dict,
        opts: pulumi.ResourceOptions,
    ) -> kubernetes.helm.v4.Chart:
        self.charts[release] = coordinates
        return install_chart(resource_name, coordinates, release=release, namespace=namespace, values=values, opts=opts)
