"""EksAccess: the non-admin principals of an EKS cluster, as access entries.

Viewers get EKS's own AmazonEKSViewPolicy scoped to their namespaces: EKS authorizes them,
no Kubernetes RBAC object is needed, and the policy leaves Secrets out (like Kubernetes'
`view` ClusterRole). Deployers get an entry that maps them into a Kubernetes group and no
access policy: the namespaced Role of NamespaceAccess (components/kubernetes) grants them
exactly what deploying needs, which no EKS access policy does (AmazonEKSEditPolicy reads
Secrets). See https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext, role_key, role_name

VIEW_POLICY = "AmazonEKSViewPolicy"
# EKS refuses Kubernetes groups with these prefixes in an access entry
# (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
RESERVED_GROUP_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")


@dataclass
class EksViewer:
    """An IAM role whose sessions may read some namespaces."""

    role: str
    """Required: IAM role name (in the deploying account) or ARN; its entry is keyed by the role name."""
    namespaces: list[str]
    """Required: the namespaces the role may read (AmazonEKSViewPolicy scoped to them); at least one."""


@dataclass
class EksDeployer:
    """The IAM role a pipeline assumes to deploy into one namespace."""

    role: str
    """Required: IAM role name (in the deploying account) or ARN; its entry is keyed by the namespace."""
    namespace: str
    """Required: the namespace it deploys into (the key of its entry; its rights come from that namespace's Role)."""
    kubernetes_group: str
    """Required: the Kubernetes group the entry maps the role into; the namespace's deployer RoleBinding names it."""


@dataclass
class EksAccessArgs:
    """Inputs of EksAccess. Every principal gets exactly one access entry."""

    cluster_name: pulumi.Input[str]
    """Required: the cluster the entries belong to (EksCluster.cluster_name, so they wait for it)."""
    viewers: list[EksViewer] = field(default_factory=list)
    """Read-only roles, each at most once. Default none."""
    deployers: list[EksDeployer] = field(default_factory=list)
    """Pipeline roles, one per namespace. Default none."""
    admin_roles: list[str] = field(default_factory=list)
    """The cluster's admin roles (EksClusterArgs.admin_roles), which already hold an entry: a viewer or deployer
    among them is refused. Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every access entry (a Name tag is added per entry). Default none."""


def _check(owner: str, args: EksAccessArgs) -> None:
    """EKS gives each principal one access entry per cluster; refuse a second one here,
    before anything registers, rather than fail half-way through `pulumi up`."""
    holders: dict[str, str] = {role_key(role): f"admin role {role!r}" for role in args.admin_roles}
    principals = [(viewer.role, f"viewer {viewer.role!r}") for viewer in args.viewers] + [
        (deployer.role, f"deployer of namespace {deployer.namespace!r} ({deployer.role!r})")
        for deployer in args.deployers
    ]
    for role, what in principals:
        key = role_key(role)
        if key in holders:
            raise ValueError(
                f"{owner}: {what} already has an access entry as {holders[key]}; EKS allows one entry per principal"
            )
        holders[key] = what
    namespaces = [deployer.namespace for deployer in args.deployers]
    if len(set(namespaces)) != len(namespaces):
        raise ValueError(f"{owner}: one deployer per namespace, got namespaces {namespaces}")
    for viewer in args.viewers:
        if not viewer.namespaces or len(set(viewer.namespaces)) != len(viewer.namespaces):
            raise ValueError(f"{owner}: viewer {viewer.role!r} needs distinct namespaces, got {viewer.namespaces}")
    for deployer in args.deployers:
        if not deployer.kubernetes_group or deployer.kubernetes_group.startswith(RESERVED_GROUP_PREFIXES):
            raise ValueError(
                f"{owner}: deployer of {deployer.namespace!r} needs a Kubernetes group not starting with "
                f"{', '.join(RESERVED_GROUP_PREFIXES)}, got {deployer.kubernetes_group!r}"
            )


class EksAccess(pulumi.ComponentResource):
    viewer_entries: dict[str, aws.eks.AccessEntry]
    """Viewer entries by role name."""
    deployer_entries: dict[str, aws.eks.AccessEntry]
    """Deployer entries by namespace."""

    def __init__(self, name: str, args: EksAccessArgs, opts: pulumi.ResourceOptions | None = None):
        _check(f"EksAccess {name}", args)
        super().__init__("platform:aws:EksAccess", name, None, opts)
        aws_context = AwsContext.of(self)
        child = pulumi.ResourceOptions(parent=self)
        view_policy = pulumi.Output.concat(
            "arn:", aws_context.partition, f":eks::aws:cluster-access-policy/{VIEW_POLICY}"
        )

        # Keyed by role name and namespace, never list position: removing one principal
        # must not rename (and so replace) the others' entries.
        self.viewer_entries = {}
        for viewer in args.viewers:
            key = role_name(viewer.role)
            principal = aws_context.role_arn(viewer.role)
            entry = aws.eks.AccessEntry(
                f"{name}-viewer-{key}",
                cluster_name=args.cluster_name,
                principal_arn=principal,
                type="STANDARD",
                # No Kubernetes groups: the access policy below is the viewer's only grant.
                tags={**args.tags, "Name": f"{name}-viewer-{key}"},
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-viewer-{key}-view",
                cluster_name=args.cluster_name,
                principal_arn=principal,
                policy_arn=view_policy,
                # Least privilege: only the listed namespaces, never the whole cluster.
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="namespace", namespaces=sorted(viewer.namespaces)
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
            self.viewer_entries[key] = entry

        self.deployer_entries = {}
        for deployer in args.deployers:
            key = deployer.namespace
            self.deployer_entries[key] = aws.eks.AccessEntry(
                f"{name}-deployer-{key}",
                cluster_name=args.cluster_name,
                principal_arn=aws_context.role_arn(deployer.role),
                type="STANDARD",
                # No access policy: the group is all the entry carries, and the namespace's
                # deployer RoleBinding (NamespaceAccess) is what it grants.
                kubernetes_groups=[deployer.kubernetes_group],
                tags={**args.tags, "Name": f"{name}-deployer-{key}"},
                opts=child,
            )

        self.register_outputs(
            {
                "viewer_principals": {key: entry.principal_arn for key, entry in self.viewer_entries.items()},
                "deployer_principals": {key: entry.principal_arn for key, entry in self.deployer_entries.items()},
            }
        )
