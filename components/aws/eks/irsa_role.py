"""IrsaRole: an IAM role that exactly one Kubernetes service account can assume (IRSA)."""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._iam_documents import irsa_trust_policy


@dataclass(frozen=True)
class OidcIdentity:
    """A cluster's IAM OIDC identity: what an IRSA role's trust policy names.

    EksCluster exposes it as `oidc_identity`; add-ons and workloads build their own roles
    from it (plain data, so any component can take it as an argument).
    """

    provider_arn: pulumi.Input[str]
    """Required: ARN of the cluster's IAM OIDC provider (`aws.iam.OpenIdConnectProvider`)."""
    issuer_url: pulumi.Input[str]
    """Required: the cluster's issuer URL, `https://oidc.eks.<region>.amazonaws.com/id/<id>`."""


@dataclass
class IrsaRoleArgs:
    """Inputs of IrsaRole. Nothing is granted unless named here."""

    oidc: OidcIdentity
    """Required: the cluster whose service account may assume the role."""
    namespace: str
    """Required: the service account's namespace."""
    service_account: str
    """Required: the service account's name. Only `system:serviceaccount:<namespace>:<name>` is trusted."""
    managed_policies: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """AWS-managed or account policies to attach, by a stable key (the policy's name) -> ARN.
    Default none. The key names the attachment, so removing one never renames the others."""
    inline_policy: pulumi.Input[str] | None = None
    """A JSON policy document scoped to what this workload needs. Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the role. Default none (the provider's default tags still apply)."""


class IrsaRole(pulumi.ComponentResource):
    """Role whose trust policy admits `system:serviceaccount:<ns>:<sa>` with the STS audience.

    A resource that uses the role should `depends_on` the component, not just read
    `role_arn`: that waits for the policies too, so the first call with the role is
    not refused for want of a permission that is still being attached.
    """

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.managed_policies and args.inline_policy is None:
            raise ValueError(
                f"IrsaRole {name}: give managed_policies or inline_policy; a role with no permissions is a mistake"
            )
        super().__init__("platform:aws:IrsaRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            assume_role_policy=irsa_trust_policy(
                args.oidc.provider_arn, args.oidc.issuer_url, args.namespace, args.service_account
            ),
            tags={**args.tags, "Name": f"{name}-role"},
            opts=child,
        )
        for policy_name, policy_arn in args.managed_policies.items():
            aws.iam.RolePolicyAttachment(
                f"{name}-attach-{policy_name}", role=role.name, policy_arn=policy_arn, opts=child
            )
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=args.inline_policy, opts=child)

        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
