"""IrsaRole: an IAM role that exactly one Kubernetes service account can assume (IRSA)."""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._iam_documents import irsa_trust_policy


@dataclass
class IrsaRoleArgs:
    """Inputs of IrsaRole. Nothing is granted unless named here."""

    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (EksCluster.oidc_provider_arn)."""
    oidc_issuer_url: pulumi.Input[str]
    """The cluster's issuer URL (EksCluster.oidc_issuer_url)."""
    namespace: str
    service_account: str
    managed_policy_arns: list[pulumi.Input[str]] = field(default_factory=list)
    """AWS-managed or account policies to attach."""
    inline_policy: pulumi.Input[str] | None = None
    """A JSON policy document scoped to what this workload needs."""
    tags: dict[str, str] = field(default_factory=dict)


class IrsaRole(pulumi.ComponentResource):
    """Role whose trust policy admits `system:serviceaccount:<ns>:<sa>` with the STS audience."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.managed_policy_arns and args.inline_policy is None:
            raise ValueError(
                f"IrsaRole {name}: give managed_policy_arns or inline_policy; a role with no permissions is a mistake"
            )
        super().__init__("platform:aws:IrsaRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer_url, args.namespace, args.service_account
            ),
            tags={**args.tags, "Name": f"{name}-role"},
            opts=child,
        )
        for index, policy_arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-attach-{index}", role=role.name, policy_arn=policy_arn, opts=child)
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=args.inline_policy, opts=child)

        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
