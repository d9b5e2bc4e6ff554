"""EksAddons: a set of EKS managed add-ons, each with its own IRSA role where it calls AWS.

EksCluster installs two sets: the networking add-ons before the node groups (nodes stay
NotReady without a CNI) and the workload add-ons after them (coredns and the EBS CSI
controller need nodes to schedule on, and EKS reports them DEGRADED until then).
"""

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs, OidcIdentity


@dataclass(frozen=True)
class AddonSpec:
    """One EKS managed add-on and, when it calls AWS APIs, the IRSA role it runs as."""

    name: str
    """Required: the EKS add-on name, e.g. `vpc-cni`."""
    short_name: str
    """Required: names its IRSA role; IAM role names stop at 64 characters, auto-suffix included."""
    service_account: tuple[str, str] | None = None
    """(namespace, name) of the add-on's service account, when it calls AWS APIs. Default
    None: no IRSA role (the add-on needs no AWS permissions)."""
    aws_managed_policy: str | None = None
    """Path of the AWS-managed policy its IRSA role gets, e.g. `AmazonEKS_CNI_Policy`.
    Default None; needed together with `service_account`."""
    configuration: dict[str, Any] | None = None
    """The add-on's configuration values (its JSON schema, `aws eks describe-addon-configuration`).
    Default None: EKS's defaults."""


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


@dataclass
class EksAddonsArgs:
    """Inputs of EksAddons."""

    cluster_name: pulumi.Input[str]
    """Required: the EKS cluster the add-ons go on."""
    kubernetes_version: pulumi.Input[str]
    """Required: add-on builds are chosen for this version, so a cluster upgrade moves them too."""
    addons: list[AddonSpec]
    """Required: the add-ons of this set, installed in parallel."""
    oidc: OidcIdentity
    """Required: the cluster's OIDC identity; each add-on that calls AWS gets a role trusted by
    its own service account only."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the add-ons and roles. Default none (the provider's default tags still apply)."""


class EksAddons(pulumi.ComponentResource):
    addon_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: EksAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aws:EksAddons", name, None, opts)
        aws_context = AwsContext.of(self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self.addon_arns = {}
        for spec in args.addons:
            role: IrsaRole | None = None
            if spec.service_account and spec.aws_managed_policy:
                namespace, service_account = spec.service_account
                policy_name = spec.aws_managed_policy.rsplit("/", 1)[-1]
                role = IrsaRole(
                    f"{name}-{spec.short_name}",
                    IrsaRoleArgs(
                        oidc=args.oidc,
                        namespace=namespace,
                        service_account=service_account,
                        managed_policies={policy_name: aws_context.aws_managed_policy(spec.aws_managed_policy)},
                        tags=args.tags,
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            addon = aws.eks.Addon(
                f"{name}-{spec.name}",
                cluster_name=args.cluster_name,
                addon_name=spec.name,
                # EKS's default build for the cluster's version: pinned in state, and moved
                # by a cluster upgrade (a stale add-on can block the next upgrade).
                addon_version=aws.eks.get_addon_version_output(
                    addon_name=spec.name, kubernetes_version=args.kubernetes_version, opts=invoke
                ).version,
                service_account_role_arn=role.role_arn if role else None,
                configuration_values=json.dumps(spec.configuration) if spec.configuration else None,
                # First install replaces the self-managed copy if one exists; later
                # updates keep any field someone changed on purpose.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags={**args.tags, "Name": f"{name}-{spec.name}"},
                # Wait for the role's policy attachments too, not just the role its ARN
                # names: the controller's first AWS call must not race its permissions.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role] if role else None),
            )
            self.addon_arns[spec.name] = addon.arn
        self.register_outputs({"addon_arns": self.addon_arns})
