"""GkeAccess: the project IAM that lets viewers and deployers reach a GKE cluster at all.

On GKE, IAM and Kubernetes RBAC are both consulted and either may allow a request. Project
IAM would grant its rights in every cluster of the project, so it gives here only
`roles/container.clusterViewer` (container.clusters.get and .list: enough for
`gcloud container clusters get-credentials`, nothing inside the cluster). What each identity
may do inside comes from the namespaced RoleBindings of NamespaceAccess (components/kubernetes).
See https://cloud.google.com/kubernetes-engine/docs/how-to/iam and
https://cloud.google.com/kubernetes-engine/docs/how-to/role-based-access-control.
"""

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

# Least privilege: never container.viewer/developer/admin at project level (they reach
# objects, Secrets included for developer, in every cluster of the project).
CLUSTER_VIEWER_ROLE = "roles/container.clusterViewer"
_EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,63}$")
_SERVICE_ACCOUNT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$")


@dataclass
class GkeAccessArgs:
    """Inputs of GkeAccess: who may fetch the credentials of the project's clusters."""

    project: pulumi.Input[str]
    """Required: the project of the cluster; the grants are on it (GKE has no per-cluster IAM)."""
    viewer_groups: list[str] = field(default_factory=list)
    """Google Group emails of the viewers, each once (member `group:<email>`). Default none."""
    deployer_service_accounts: list[str] = field(default_factory=list)
    """Service account emails of the deployers, each once (member `serviceAccount:<email>`). Default none."""


def _check(owner: str, args: GkeAccessArgs) -> None:
    for what, emails in (
        ("viewer group", args.viewer_groups),
        ("deployer service account", args.deployer_service_accounts),
    ):
        if len({email.lower() for email in emails}) != len(emails):
            raise ValueError(f"{owner}: each {what} once, got {emails}")
        for email in emails:
            if not _EMAIL.match(email.lower()):
                raise ValueError(f"{owner}: {what} must be an email address, got {email!r}")
    for email in args.deployer_service_accounts:
        if not _SERVICE_ACCOUNT.match(email):
            raise ValueError(f"{owner}: deployer service account must end in .iam.gserviceaccount.com, got {email!r}")


def _key(email: str) -> str:
    """A stable resource-name key of an email (Pulumi names allow '@' and '.', but '-' reads better)."""
    return re.sub(r"[^a-z0-9-]", "-", email.lower())


class GkeAccess(pulumi.ComponentResource):
    members: dict[str, gcp.projects.IAMMember]
    """The grants by member (`group:...` or `serviceAccount:...`)."""

    def __init__(self, name: str, args: GkeAccessArgs, opts: pulumi.ResourceOptions | None = None):
        _check(f"GkeAccess {name}", args)
        super().__init__("platform:gcp:GkeAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grants = [("viewer", f"group:{email}", email) for email in args.viewer_groups] + [
            ("deployer", f"serviceAccount:{email}", email) for email in args.deployer_service_accounts
        ]
        # Keyed by email, never list position: removing one grant leaves the others alone.
        # IAMMember is additive: it never removes grants made outside this program.
        self.members = {
            member: gcp.projects.IAMMember(
                f"{name}-{role}-{_key(email)}",
                project=args.project,
                role=CLUSTER_VIEWER_ROLE,
                member=member,
                opts=child,
            )
            for role, member, email in grants
        }
        self.register_outputs({"members": sorted(self.members)})
