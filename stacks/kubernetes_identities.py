"""The cloud identities External Secrets reads each cloud's secret store as, two per cluster:

- the platform's (`platform-secrets`, for cert-manager's DNS token): secrets under
  `<prefix>/` (Secrets Manager) or `<prefix>-` (Secret Manager), but not the workloads';
- the workloads' (`workload-secrets`): secrets under `<prefix>/workloads/` or
  `<prefix>-workloads-` only, so no workload namespace can read the platform's secrets.

Both are built by the same two functions: an IRSA role on EKS, a Workload Identity service
account on GKE, each trusting exactly one service account of the operator's namespace.
"""

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.aws._context import AwsContext
from components.aws._iam_documents import secrets_reader_policy
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.monitoring_credentials import MonitoringCredentials
from components.gcp.workload_identity_account import ProjectRole, WorkloadIdentityAccount, WorkloadIdentityAccountArgs
from components.kubernetes import external_secrets
from components.kubernetes._app_specs import RDS_CA_FILE, REPLICA_CA_FILE
from components.kubernetes.external_secrets import AwsSecretStore, GcpSecretStore
from components.multicloud.workload_secrets import WorkloadSecrets
from stacks.aws_platform import AwsPrimary
from stacks.cluster_services import WorkloadSecretAccess
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary
from stacks.workload_secrets import aws_name_prefix, gcp_id_prefix, workload_keys


def aws_secrets_under(primary: AwsPrimary, name_prefix: str) -> pulumi.Output[str]:
    """The ARN pattern of every Secrets Manager secret whose name starts with `name_prefix`
    (an ARN ends in a random suffix after the name, hence the `*`)."""
    context = AwsContext.of(primary.cluster)
    return pulumi.Output.concat(
        "arn:", context.partition, ":secretsmanager:", context.region, ":", context.account_id, ":secret:",
        name_prefix, "*",
    )  # fmt: skip


def eks_secrets_reader(
    name: str,
    service_account: str,
    secret_arns: Sequence[pulumi.Input[str]],
    key_arns: Sequence[pulumi.Input[str]],
    primary: AwsPrimary,
    label: str,
) -> IrsaRole:
    """An IRSA role External Secrets reads AWS Secrets Manager as, trusted for one service
    account of its namespace: GetSecretValue on `secret_arns` (ARNs or patterns) only, and
    kms:Decrypt on `key_arns` only through Secrets Manager. Secrets under the AWS-managed
    Secrets Manager key need no KMS grant."""
    context = AwsContext.of(primary.cluster)
    return IrsaRole(
        name,
        IrsaRoleArgs(
            oidc=primary.cluster.oidc_identity,
            namespace=external_secrets.NAMESPACE,
            service_account=service_account,
            inline_policy=secrets_reader_policy(
                secret_arns,
                key_arns,
                pulumi.Output.concat("secretsmanager.", context.region, ".", context.dns_suffix),
                label=label,
            ),
        ),
        # Under the cluster: an add-on's identity, on the cluster's AWS provider.
        opts=pulumi.ResourceOptions(parent=primary.cluster),
    )


def gke_secrets_reader(
    config: PlatformConfig,
    name: str,
    account_id: str,
    service_account: str,
    secret_prefix: str,
    secondary: GcpSecondary,
    excluded_prefixes: Sequence[str] = (),
) -> tuple[WorkloadIdentityAccount, GcpSecretStore]:
    """A Google service account External Secrets reads Secret Manager as (Workload Identity),
    trusted for one service account of its namespace.

    `secretAccessor` on the project, conditioned on the secret's resource name (Secret
    Manager's IAM conditions see `projects/<number>/secrets/<id>`, by project number): ids
    under `secret_prefix` and under none of `excluded_prefixes`.
    """
    project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=secondary.cluster))

    def condition(number: str) -> str:
        def under(prefix: str) -> str:
            return f'resource.name.startsWith("projects/{number}/secrets/{prefix}")'

        return " && ".join([under(secret_prefix), *(f"!{under(excluded)}" for excluded in excluded_prefixes)])

    account = WorkloadIdentityAccount(
        name,
        WorkloadIdentityAccountArgs(
            account_id=account_id,
            project=config.gcp_project,
            workload_pool=secondary.cluster.workload_pool,
            namespace=external_secrets.NAMESPACE,
            service_account=service_account,
            project_roles={
                "secret-accessor": ProjectRole(
                    role="roles/secretmanager.secretAccessor",
                    condition_title=f"secrets under {secret_prefix} only",
                    condition_expression=project.number.apply(condition),
                )
            },
        ),
        opts=pulumi.ResourceOptions(parent=secondary.cluster),
    )
    return account, GcpSecretStore(
        project_id=config.gcp_project,
        cluster_location=config.gcp_region,
        cluster_name=secondary.cluster.cluster_name,
        google_service_account=account.email,
    )


def platform_secret_readers(
    config: PlatformConfig,
    primary: AwsPrimary,
    secondary: GcpSecondary,
    aws_prefix: str,
    gcp_prefix: str,
    database_credentials: Sequence[MonitoringCredentials],
) -> tuple[IrsaRole, WorkloadIdentityAccount, GcpSecretStore]:
    """The platform store's identities (the operator's own account): everything under the
    platform's prefixes but the workloads' secrets, which their own store and identity read;
    on EKS also the exporters' and the backup job's credentials (the database roles' passwords
    in `database_credentials`, Redis's token)."""
    prefix = config.resource_prefix
    eks_reader = eks_secrets_reader(
        f"{prefix}-eks-external-secrets",
        external_secrets.SERVICE_ACCOUNT,
        # The Redis auth token's name was generated by Pulumi, so it is listed by ARN, with
        # the key that encrypts it. The workloads' secrets under the prefix stay unreadable:
        # their customer key grants this role nothing.
        [aws_secrets_under(primary, aws_prefix), primary.cache.auth_token_secret_arn],
        # The database roles' passwords are under the prefix, each encrypted with a key of its own.
        [primary.cache.auth_token_key_arn, *(credentials.key_arn for credentials in database_credentials)],
        primary,
        label="Platform",
    )
    gke_reader, gke_store = gke_secrets_reader(
        config,
        f"{prefix}-gke-external-secrets",
        f"{prefix[:25].rstrip('-')}-eso",
        external_secrets.SERVICE_ACCOUNT,
        gcp_prefix,
        secondary,
        excluded_prefixes=[gcp_id_prefix(config)],
    )
    return eks_reader, gke_reader, gke_store


def workload_secret_access(
    config: PlatformConfig, primary: AwsPrimary, secondary: GcpSecondary, secrets: WorkloadSecrets | None
) -> tuple[WorkloadSecretAccess, WorkloadSecretAccess]:
    """The workloads' store on EKS and on GKE: its own identity, reading only names under the
    workloads' prefix, and the secret each placed workload reads through it."""
    prefix = config.resource_prefix
    aws_prefix, gcp_prefix = aws_name_prefix(config), gcp_id_prefix(config)
    # The URLs' customer key, through Secrets Manager only; nothing else.
    key_arns = [secrets.aws_key_arn] if secrets is not None and secrets.aws_key_arn is not None else []
    eks_reader = eks_secrets_reader(
        f"{prefix}-eks-workload-secrets",
        external_secrets.WORKLOAD_SERVICE_ACCOUNT,
        [aws_secrets_under(primary, aws_prefix)],
        key_arns,
        primary,
        label="Workload",
    )
    # Service account ids are 6-30 characters: `-eso-wl` after at most 23 of the prefix.
    gke_reader, gke_store = gke_secrets_reader(
        config,
        f"{prefix}-gke-workload-secrets",
        f"{prefix[:23].rstrip('-')}-eso-wl",
        external_secrets.WORKLOAD_SERVICE_ACCOUNT,
        gcp_prefix,
        secondary,
    )
    stored: dict[str, dict[str, str]] = {"eks": {}, "gke": {}}
    values: dict[str, list[pulumi.Resource]] = {"eks": [], "gke": []}
    if secrets is not None:
        stored = {"eks": secrets.aws_remote_keys, "gke": secrets.gcp_remote_keys}
        values = {"eks": list(secrets.aws_versions.values()), "gke": list(secrets.gcp_versions.values())}
    return (
        WorkloadSecretAccess(
            cloud=AwsSecretStore(region=config.aws_region, role_arn=eks_reader.role_arn),
            reader=eks_reader,
            secrets=_remote_keys(workload_keys(config, "eks"), stored["eks"]),
            values=values["eks"],
            # DATABASE_URL: RDS's certificate chains to the region's RDS root (certs/).
            ca_certificates={RDS_CA_FILE: config.rds_ca_certificate},
        ),
        WorkloadSecretAccess(
            cloud=gke_store,
            reader=gke_reader,
            secrets=_remote_keys(workload_keys(config, "gke"), stored["gke"]),
            values=values["gke"],
            # DATABASE_URL reaches RDS over the VPN; DATABASE_READ_URL the replica, whose
            # certificate its own Cloud SQL instance CA signs.
            ca_certificates={
                RDS_CA_FILE: config.rds_ca_certificate,
                REPLICA_CA_FILE: secondary.replica.server_ca_certificate,
            },
        ),
    )


def _remote_keys(keys: dict[str, dict[str, str]], stored: dict[str, str]) -> dict[str, dict[str, str]]:
    """Workload -> variable -> the name the store holds it under (WorkloadSecrets' own names,
    so an ExternalSecret can only name a secret that exists)."""
    return {
        workload: {variable: stored[key] for variable, key in variables.items()} for workload, variables in keys.items()
    }
