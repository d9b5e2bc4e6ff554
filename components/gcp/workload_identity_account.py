"""WorkloadIdentityAccount: a Google service account that exactly one Kubernetes service
account may act as (GKE Workload Identity), with only the project roles named here.

The GKE counterpart of IrsaRole. The Kubernetes service account is annotated with the
account's email (`iam.gke.io/gcp-service-account`); this component grants the other half:
`roles/iam.workloadIdentityUser` on the account to
`serviceAccount:<project>.svc.id.goog[<namespace>/<name>]`, and nobody else.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True)
class ProjectRole:
    """A project-level role, optionally narrowed by an IAM condition."""

    role: str
    """Required: the role, e.g. `roles/secretmanager.secretAccessor`."""
    condition_title: str | None = None
    """Title of the IAM condition. Default None (no condition: the role holds on the whole project)."""
    condition_expression: pulumi.Input[str] | None = None
    """CEL expression that narrows the role (e.g. to names under a prefix). Default None."""


@dataclass
class WorkloadIdentityAccountArgs:
    """Inputs of WorkloadIdentityAccount. Nothing is granted unless named here."""

    account_id: str
    """Required: the service account's id (6-30 characters, lowercase letters, digits, hyphens)."""
    project: str
    """Required: the project the account and its role bindings live in."""
    workload_pool: pulumi.Input[str]
    """Required: the cluster's workload identity pool, `<project>.svc.id.goog`."""
    namespace: str
    """Required: the Kubernetes service account's namespace."""
    service_account: str
    """Required: the Kubernetes service account's name; only it may act as the account."""
    project_roles: dict[str, ProjectRole] = field(default_factory=dict)
    """Project roles by a stable key (it names the binding). Default none."""


class WorkloadIdentityAccount(pulumi.ComponentResource):
    email: pulumi.Output[str]
    member: pulumi.Output[str]
    """`serviceAccount:<project>.svc.id.goog[<namespace>/<name>]`: who may act as the account."""

    def __init__(self, name: str, args: WorkloadIdentityAccountArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.project_roles:
            raise ValueError(
                f"WorkloadIdentityAccount {name}: give project_roles; an account with no role is a mistake"
            )
        for key, grant in args.project_roles.items():
            if (grant.condition_title is None) != (grant.condition_expression is None):
                raise ValueError(f"WorkloadIdentityAccount {name}: {key} needs both a condition title and expression")
        super().__init__("platform:gcp:WorkloadIdentityAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=args.account_id,
            project=args.project,
            display_name=f"Workload Identity of {args.namespace}/{args.service_account}",
            opts=child,
        )
        member = pulumi.Output.concat(
            "serviceAccount:", args.workload_pool, "[", args.namespace, "/", args.service_account, "]"
        )
        # On the account, not the project: a project-level grant would let the Kubernetes
        # account act as every service account of the project.
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=member,
            opts=child,
        )
        for key, grant in args.project_roles.items():
            gcp.projects.IAMMember(
                f"{name}-{key}",
                project=args.project,
                role=grant.role,
                member=pulumi.Output.concat("serviceAccount:", account.email),
                condition=(
                    gcp.projects.IAMMemberConditionArgs(
                        title=grant.condition_title, expression=grant.condition_expression
                    )
                    if grant.condition_title is not None and grant.condition_expression is not None
                    else None
                ),
                opts=child,
            )

        self.email = account.email
        self.member = member
        self.register_outputs({"email": self.email, "member": self.member})
