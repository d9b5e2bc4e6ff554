"""GcpCiIdentity: the workload identity pool and provider GitHub Actions tokens federate
through, and the service accounts the workflows impersonate.

The provider's attribute condition admits only tokens of one repository (a pool provider
without one admits every GitHub repository). Service accounts live in the CI project and
get roles on their stack's project:
- `<prefix>-deploy-<env>`: impersonable only by `attribute.environment/<env>`, i.e. a job
  running in that GitHub environment (after its approval). A curated set of admin roles,
  one per kind of resource the platform registers (DEPLOY_ROLES);
- `<prefix>-preview`: the pull request's subject only; viewer and IAM-policy reader on every stack's project;
- `<prefix>-drift`: the main branch's subject only; the same plus secret values, which a refresh
  of the stacks' Secret Manager versions reads back.
No service-account key is created: the google-github-actions/auth step exchanges the
GitHub token for a short-lived one.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

GITHUB_ISSUER_URI = "https://token.actions.githubusercontent.com"

# One role per kind of GCP resource in components/gcp/ and stacks/ (not roles/owner, not
# roles/editor): an `up` that needs a new one fails with the missing permission's name.
DEPLOY_ROLES = {
    "compute-network": "roles/compute.networkAdmin",  # VPC, subnets, router, NAT, addresses, HA VPN
    "compute-security": "roles/compute.securityAdmin",  # firewall rules
    "container": "roles/container.admin",  # GKE cluster, node pools, its Kubernetes API
    "cloudsql": "roles/cloudsql.admin",  # the Cloud SQL replica and its source representation
    "service-networking": "roles/servicenetworking.networksAdmin",  # private service access
    "kms": "roles/cloudkms.admin",  # key ring, keys, their IAM members
    "secrets": "roles/secretmanager.admin",  # replication and database secrets
    "artifact-registry": "roles/artifactregistry.admin",  # repository, its IAM members
    "service-accounts": "roles/iam.serviceAccountAdmin",  # node and workload service accounts
    "service-account-user": "roles/iam.serviceAccountUser",  # attach the node service account to GKE
    "project-iam": "roles/resourcemanager.projectIamAdmin",  # project IAM members
}
# Read configuration and IAM policies, not data.
PREVIEW_ROLES = {"viewer": "roles/viewer", "security-reviewer": "roles/iam.securityReviewer"}
DRIFT_ROLES = {**PREVIEW_ROLES, "secret-accessor": "roles/secretmanager.secretAccessor"}
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


@dataclass
class GcpCiIdentityArgs:
    """Inputs of GcpCiIdentity."""

    repository: str
    """`owner/name` of the trusted GitHub repository. Required."""
    environments: dict[str, str]
    """GitHub environment (= stack) -> the GCP project its deploy account manages. Required."""
    account_prefix: str
    """Prefix of the service-account ids (`heal7-github`); the workflows name the accounts. Required."""
    pool_id: str = "github"
    """Workload identity pool id (4-32 characters). Default `github`."""
    provider_id: str = "github-actions"
    """Pool provider id (4-32 characters). Default `github-actions`."""


@dataclass
class _Account:
    key: str
    account_id: str
    description: str
    roles: dict[str, str]
    projects: list[str] = field(default_factory=list)
    members: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Stable key -> a principal that may impersonate the account (its child is named by the key)."""


class GcpCiIdentity(pulumi.ComponentResource):
    """Pool, OIDC provider restricted to one repository, CI service accounts and their bindings."""

    pool_name: pulumi.Output[str]
    provider_name: pulumi.Output[str]
    deploy_accounts: dict[str, pulumi.Output[str]]
    preview_account: pulumi.Output[str]
    drift_account: pulumi.Output[str]

    def __init__(self, name: str, args: GcpCiIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.environments:
            raise ValueError(f"GcpCiIdentity {name}: at least one environment is required")
        for identifier in (args.pool_id, args.provider_id):
            if not 4 <= len(identifier) <= 32:
                raise ValueError(
                    f"GcpCiIdentity {name}: pool and provider ids take 4-32 characters, got {identifier!r}"
                )
        super().__init__("platform:bootstrap:GcpCiIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            workload_identity_pool_id=args.pool_id,
            display_name="GitHub Actions",
            description=f"GitHub Actions workflows of {args.repository}",
            opts=child,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=args.provider_id,
            display_name="GitHub Actions OIDC",
            # The claims the bindings below select on; google.subject is the token's sub.
            attribute_mapping={
                "google.subject": "assertion.sub",
                "attribute.repository": "assertion.repository",
                "attribute.environment": "assertion.environment",
                "attribute.ref": "assertion.ref",
            },
            # Only this repository's tokens are exchanged at all.
            attribute_condition=f"assertion.repository == '{args.repository}'",
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER_URI),
            opts=child,
        )

        def principal_set(attribute: str, value: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "principalSet://iam.googleapis.com/", pool.name, f"/attribute.{attribute}/{value}"
            )

        def principal(subject: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("principal://iam.googleapis.com/", pool.name, f"/subject/{subject}")

        projects = list(dict.fromkeys(args.environments.values()))
        accounts = [
            _Account(
                key=f"deploy-{environment}",
                account_id=f"{args.account_prefix}-deploy-{environment}",
                description=f"pulumi up of stack {environment} from its GitHub environment",
                roles=DEPLOY_ROLES,
                projects=[project],
                members={f"environment-{environment}": principal_set("environment", environment)},
            )
            for environment, project in args.environments.items()
        ]
        accounts.append(
            _Account(
                key="preview",
                account_id=f"{args.account_prefix}-preview",
                description="pulumi preview of a pull request (read-only)",
                roles=PREVIEW_ROLES,
                projects=projects,
                members={"pull-request": principal(f"repo:{args.repository}:pull_request")},
            )
        )
        accounts.append(
            _Account(
                key="drift",
                account_id=f"{args.account_prefix}-drift",
                description="nightly pulumi preview --refresh of every stack (read-only)",
                roles=DRIFT_ROLES,
                projects=projects,
                members={"main-branch": principal(f"repo:{args.repository}:ref:refs/heads/main")},
            )
        )
        emails: dict[str, pulumi.Output[str]] = {}
        for account in accounts:
            emails[account.key] = self._account(name, account)

        self.pool_name = pool.name
        self.provider_name = provider.name
        self.deploy_accounts = {environment: emails[f"deploy-{environment}"] for environment in args.environments}
        self.preview_account = emails["preview"]
        self.drift_account = emails["drift"]
        self.register_outputs(
            {
                "pool_name": pool.name,
                "provider_name": provider.name,
                "deploy_accounts": self.deploy_accounts,
                "preview_account": self.preview_account,
                "drift_account": self.drift_account,
            }
        )

    def _account(self, name: str, account: _Account) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        service_account = gcp.serviceaccount.Account(
            f"{name}-{account.key}",
            account_id=account.account_id,
            display_name=account.account_id,
            description=account.description,
            opts=child,
        )
        for project in account.projects:
            for role_key, role in account.roles.items():
                gcp.projects.IAMMember(
                    f"{name}-{account.key}-{project}-{role_key}",
                    project=project,
                    role=role,
                    member=service_account.member,
                    opts=child,
                )
        # Who may impersonate the account: only the tokens selected above.
        for member_key, member in account.members.items():
            gcp.serviceaccount.IAMMember(
                f"{name}-{account.key}-workload-identity-{member_key}",
                service_account_id=service_account.name,
                role=WORKLOAD_IDENTITY_USER,
                member=member,
                opts=child,
            )
        return service_account.email
