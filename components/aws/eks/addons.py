"""EksAddons: a set of EKS managed add-ons, each with its own IRSA role where it calls AWS.

EksCluster installs two sets: the networking add-ons before the node groups (nodes stay
NotReady without a CNI) and the workload add-ons after them (coredns and the EBS CSI
controller need nodes to schedule on, and EKS reports them DEGRADED until then).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws.eks.irsa_role import IrsaRole


@dataclass(frozen=True)
class AddonSpec:
    name: str
    """The EKS add-on name, e.g. `vpc-cni`."""
    short_name: str
    """Names its IRSA role: IAM role names stop at 64 characters, auto-suffix included."""
    service_account: tuple[str, str] | None = None
    """(namespace, name) of the add-on's service account, when it calls AWS APIs."""
    aws_managed_policy: str | None = None
    """Path of the AWS-managed policy its IRSA role gets, e.g. `AmazonEKS_CNI_Policy`."""
    configuration: dict[str, Any] | None = None


# The VPC CNI enforces Kubernetes NetworkPolicy only with this switch; without it the
# platform's default-deny policies would be silently ignored (CIS EKS 5.4.4).
VPC_CNI = AddonSpec(
    "vpc-cni", "vpc-cni", ("kube-system", "aws-node"), "AmazonEKS_CNI_Policy", {"enableNetworkPolicy": "true"}
)
NETWORK_ADDONS = [VPC_CNI, AddonSpec("kube-proxy", "kube-proxy"), AddonSpec("eks-pod-identity-agent", "pod-identity")]
WORKLOAD_ADDONS = [
    AddonSpec("coredns", "coredns"),
    AddonSpec(
        "aws-ebs-csi-driver",
        "ebs-csi",
        ("kube-system", "ebs-csi-controller-sa"),
        "service-role/AmazonEBSCSIDriverPolicy",
    ),
]

IrsaFactory = Callable[..., IrsaRole]


@dataclass
class EksAddonsArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: pulumi.Input[str]
    """Add-on builds are chosen for this version, so a cluster upgrade moves them too."""
    addons: list[AddonSpec]
    irsa_role: IrsaFactory
    """EksCluster.irsa_role: builds a role trusted by one service account of the cluster."""
    tags: dict[str, str] = field(default_factory=dict)


class EksAddons(pulumi.ComponentResource):
    addon_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: EksAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aws:EksAddons", name, None, opts)
        aws_context = AwsContext.of(self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self.addon_arns = {}
        for spec in args.addons:
            role_arn: pulumi.Output[str] | None = None
            if spec.service_account and spec.aws_managed_policy:
                namespace, service_account = spec.service_account
                role = args.irsa_role(
                    f"{name}-{spec.short_name}",
                    namespace,
                    service_account,
                    managed_policy_arns=[aws_context.aws_managed_policy(spec.aws_managed_policy)],
                    parent=self,
                )
                role_arn = role.role_arn
            addon = aws.eks.Addon(
                f"{name}-{spec.name}",
                cluster_name=args.cluster_name,
                addon_name=spec.name,
                # EKS's default build for the cluster's version: pinned in state, and moved
                # by a cluster upgrade (a stale add-on can block the next upgrade).
                addon_version=aws.eks.get_addon_version_output(
                    addon_name=spec.name, kubernetes_version=args.kubernetes_version, opts=invoke
                ).version,
                service_account_role_arn=role_arn,
                configuration_values=json.dumps(spec.configuration) if spec.configuration else None,
                # First install replaces the self-managed copy if one exists; later
                # updates keep any field someone changed on purpose.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags={**args.tags, "Name": f"{name}-{spec.name}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.addon_arns[spec.name] = addon.arn
        self.register_outputs({"addon_arns": self.addon_arns})
