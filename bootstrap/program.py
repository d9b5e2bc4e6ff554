"""The bootstrap program: explicit providers, then the state backend and the CI identities."""

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from bootstrap.aws_ci_identity import AwsCiIdentity, AwsCiIdentityArgs
from bootstrap.config import BootstrapConfig
from bootstrap.gcp_ci_identity import GcpCiIdentity, GcpCiIdentityArgs
from bootstrap.state_backend import StateBackend, StateBackendArgs


def build_bootstrap(config: BootstrapConfig) -> dict[str, Any]:
    """Register the bootstrap's resources; return the values to export (docs/ci.md uses them)."""
    # No `environment` tag: the deploy roles' boundaries deny resources tagged with another
    # environment, and the state bucket and key must stay usable by all of them.
    tags = {"project": config.name, "purpose": "ci-bootstrap", "managed-by": "pulumi"}
    aws_provider = aws.Provider(
        f"{config.name}-bootstrap-aws",
        region=config.aws_region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    gcp_provider = gcp.Provider(f"{config.name}-bootstrap-gcp", project=config.gcp_project, default_labels=tags)
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])
    on_gcp = pulumi.ResourceOptions(providers=[gcp_provider])
    prefix = f"{config.name}-github"

    state = StateBackend(config.name, StateBackendArgs(), on_aws)
    aws_identity = AwsCiIdentity(
        f"{config.name}-ci",
        AwsCiIdentityArgs(
            repository=config.full_repository,
            environments=list(config.environments),
            state_bucket_arn=state.bucket_arn,
            state_key_arn=state.key_arn,
            role_prefix=prefix,
            existing_oidc_provider_arn=config.aws_oidc_provider_arn,
        ),
        on_aws,
    )
    gcp_identity = GcpCiIdentity(
        f"{config.name}-ci",
        GcpCiIdentityArgs(
            repository=config.full_repository,
            environments=config.environments,
            account_prefix=prefix,
        ),
        on_gcp,
    )
    return {
        # Repository variables (docs/ci.md): PULUMI_BACKEND_URL, GCP_WORKLOAD_IDENTITY_PROVIDER, GCP_CI_PROJECT.
        "backendUrl": state.backend_url,
        "secretsProvider": state.secrets_provider,
        "gcpWorkloadIdentityProvider": gcp_identity.provider_name,
        "gcpCiProject": config.gcp_project,
        "awsDeployRoleArns": aws_identity.deploy_role_arns,
        "awsPreviewRoleArn": aws_identity.preview_role_arn,
        "awsDriftRoleArn": aws_identity.drift_role_arn,
        "gcpDeployServiceAccounts": gcp_identity.deploy_accounts,
        "gcpPreviewServiceAccount": gcp_identity.preview_account,
        "gcpDriftServiceAccount": gcp_identity.drift_account,
    }
