"""The cloud identities the Kubernetes layer's operators run as, one per cluster: External
Secrets reads the platform's own secrets, and nothing else, as an IRSA role on EKS and as a
Workload Identity service account on GKE."""

import pulumi
import pulumi_gcp as gcp

from components.aws._context import AwsContext
from components.aws._iam_documents import secrets_reader_policy
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs
from components.gcp.workload_identity_account import ProjectRole, WorkloadIdentityAccount, WorkloadIdentityAccountArgs
from components.kubernetes import external_secrets
from components.kubernetes.external_secrets import GcpSecretStore
from stacks.aws_platform import AwsPrimary
from stacks.config.models import PlatformConfig
from stacks.gcp_platform import GcpSecondary


def eks_secrets_reader(prefix: str, secret_prefix: str, primary: AwsPrimary) -> IrsaRole:
    """The IRSA role External Secrets reads AWS Secrets Manager as.

    Only the platform's secrets: names under `secret_prefix` (their ARN ends in a random
    suffix, hence the `*` after the prefix) and the Redis auth token, whose name Pulumi
    generated (`<prefix>-redis-auth-token-<random>`) and so is listed by ARN, with the KMS
    key that encrypts it. Secrets under the prefix use the AWS-managed Secrets Manager key,
    which needs no KMS grant.
    """
    context = AwsContext.of(primary.cluster)
    prefixed = pulumi.Output.concat(
        "arn:",
        context.partition,
        ":secretsmanager:",
        context.region,
        ":",
        context.account_id,
        ":secret:",
        secret_prefix,
        "*",
    )
    role = IrsaRole(
        f"{prefix}-eks-external-secrets",
        IrsaRoleArgs(
            oidc=primary.cluster.oidc_identity,
            namespace=external_secrets.NAMESPACE,
            service_account=external_secrets.SERVICE_ACCOUNT,
            inline_policy=secrets_reader_policy(
                [prefixed, primary.cache.auth_token_secret_arn],
                [primary.cache.auth_token_key_arn],
                pulumi.Output.concat("secretsmanager.", context.region, ".", context.dns_suffix),
            ),
        ),
        # Under the cluster: an add-on's identity, on the cluster's AWS provider.
        opts=pulumi.ResourceOptions(parent=primary.cluster),
    )
    return role


def gke_secrets_reader(
    config: PlatformConfig, prefix: str, secret_prefix: str, secondary: GcpSecondary
) -> tuple[WorkloadIdentityAccount, GcpSecretStore]:
    """The Google service account External Secrets reads Secret Manager as (Workload Identity).

    `secretAccessor` on the project, conditioned on the secret's resource name (Secret
    Manager's IAM conditions see `projects/<number>/secrets/<id>`, by project number).
    """
    project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=secondary.cluster))
    account = WorkloadIdentityAccount(
        f"{prefix}-gke-external-secrets",
        WorkloadIdentityAccountArgs(
            account_id=f"{prefix[:25].rstrip('-')}-eso",
            project=config.gcp_project,
            workload_pool=secondary.cluster.workload_pool,
            namespace=external_secrets.NAMESPACE,
            service_account=external_secrets.SERVICE_ACCOUNT,
            project_roles={
                "secret-accessor": ProjectRole(
                    role="roles/secretmanager.secretAccessor",
                    condition_title="platform secrets only",
                    condition_expression=project.number.apply(
                        lambda number: f'resource.name.startsWith("projects/{number}/secrets/{secret_prefix}")'
                    ),
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
