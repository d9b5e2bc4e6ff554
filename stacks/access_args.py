"""The access components' arguments, built from `platform:kubernetes` (and the EKS admins).

One place maps the config's identities to each cloud's, so both clusters and the tests
see the same mapping:
- EKS: viewers by IAM role (AmazonEKSViewPolicy on their namespaces, no RoleBinding);
  deployers by IAM role into the Kubernetes group `DeployerConfig.kubernetes_group`,
  which the namespace's deployer RoleBinding names.
- GKE: viewers by Google Group (Google Groups for RBAC), deployers by service account
  (an RBAC User named by its email); project IAM only lets them fetch credentials.
"""

import pulumi

from components.aws.eks.access import EksAccessArgs, EksDeployer, EksViewer
from components.gcp.gke_access import GkeAccessArgs
from components.kubernetes.namespace_access import NamespaceAccessArgs, NamespaceAccessSpec, RbacSubject
from stacks.config.models import PlatformConfig


def eks_access_args(config: PlatformConfig, cluster_name: pulumi.Input[str]) -> EksAccessArgs:
    kubernetes = config.kubernetes
    return EksAccessArgs(
        cluster_name=cluster_name,
        viewers=[
            EksViewer(role=role, namespaces=namespaces)
            for role, namespaces in kubernetes.viewer_namespaces_by_role().items()
        ],
        deployers=[
            EksDeployer(role=d.aws_role, namespace=d.namespace, kubernetes_group=d.kubernetes_group)
            for d in kubernetes.deployers
        ],
        admin_roles=list(config.aws.eks.admin_roles),
        tags=config.common_tags,
    )


def gke_access_args(config: PlatformConfig) -> GkeAccessArgs:
    kubernetes = config.kubernetes
    # Two viewer groups may share a Google Group; it needs one grant (emails ignore case).
    groups: dict[str, str] = {}
    for viewer in kubernetes.viewers:
        groups.setdefault(str(viewer.google_group).casefold(), str(viewer.google_group))
    return GkeAccessArgs(
        project=config.gcp_project,
        viewer_groups=sorted(groups.values()),
        deployer_service_accounts=[d.google_service_account for d in kubernetes.deployers],
    )


def eks_namespace_access_args(
    config: PlatformConfig, depends_on: list[pulumi.Resource] | None = None
) -> NamespaceAccessArgs:
    """Deployer bindings only: EKS authorizes viewers through their access policy."""
    return NamespaceAccessArgs(
        namespaces=[
            NamespaceAccessSpec(namespace=d.namespace, deployer=RbacSubject(kind="Group", name=d.kubernetes_group))
            for d in config.kubernetes.deployers
        ],
        depends_on=depends_on or [],
    )


def gke_namespace_access_args(
    config: PlatformConfig, depends_on: list[pulumi.Resource] | None = None
) -> NamespaceAccessArgs:
    """Viewers by Google Group, deployers by service account, in every namespace that has either."""
    kubernetes = config.kubernetes
    viewers: dict[str, dict[str, str]] = {}
    for viewer in kubernetes.viewers:
        for namespace in viewer.namespaces:
            group = str(viewer.google_group)
            viewers.setdefault(namespace, {}).setdefault(group.casefold(), group)
    deployers = {d.namespace: d for d in kubernetes.deployers}
    return NamespaceAccessArgs(
        namespaces=[
            NamespaceAccessSpec(
                namespace=namespace,
                viewers=[
                    RbacSubject(kind="Group", name=group) for group in sorted(viewers.get(namespace, {}).values())
                ],
                deployer=(
                    RbacSubject(kind="User", name=deployers[namespace].google_service_account)
                    if namespace in deployers
                    else None
                ),
            )
            for namespace in kubernetes.namespaces
            if namespace in viewers or namespace in deployers
        ],
        depends_on=depends_on or [],
    )
