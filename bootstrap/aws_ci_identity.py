"""AwsCiIdentity: the IAM OIDC provider for GitHub Actions and the roles its workflows assume.

- `<prefix>-deploy-<env>`, one per GitHub environment (= stack): trusted only for
  `repo:<owner>/<repo>:environment:<env>`, the subject GitHub gives a job that runs in that
  environment, so only the deploy job that passed the environment's approval gets it.
  AdministratorAccess under a permissions boundary: the platform creates IAM roles,
  KMS keys, EKS, RDS, VPCs and more, and a curated list would fail each `up` that adds a
  service. The boundary takes away what no deploy needs (docs/ci.md): changing the CI
  identities themselves, IAM users and access keys, the state bucket's protections, and
  every resource tagged with another environment.
- `<prefix>-preview`: the pull-request preview; trusted only for `repo:<owner>/<repo>:pull_request`.
  ReadOnlyAccess minus the data reads (object contents, secret values, parameters, logs):
  a pull request's code runs with it; it reads no cloud data, but decrypts the stacks' state and
  config secrets (docs/ci.md, "Honest limits").
- `<prefix>-drift`: the nightly `preview --refresh`; trusted only for the main branch
  (`repo:<owner>/<repo>:ref:refs/heads/main`, schedule and dispatch on main). ReadOnlyAccess
  plus the secret values a refresh reads back (the stacks' Secrets Manager versions).
All three read the state bucket and decrypt with the state key.

No thumbprint on the OIDC provider: for GitHub, IAM verifies the certificate against its own
trusted CAs and ignores any thumbprint (pulumi_aws 7.51.1's `thumbprint_lists`; AWS IAM
User Guide, "Create an OpenID Connect identity provider"). No access key anywhere.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bootstrap._aws_ci_policies import (
    DATA_READS,
    ENVIRONMENT_TAG,
    GITHUB_ISSUER,
    boundary_statements,
    state_read_statements,
)
from components.aws._context import AwsContext
from components.aws._iam_documents import policy_document

STS_AUDIENCE = "sts.amazonaws.com"
"""The audience aws-actions/configure-aws-credentials requests (its `audience` input's default)."""


@dataclass
class AwsCiIdentityArgs:
    """Inputs of AwsCiIdentity."""

    repository: str
    """`owner/name` of the trusted GitHub repository. Required."""
    environments: list[str]
    """GitHub environments (= stacks), one deploy role each. Required."""
    state_bucket_arn: pulumi.Input[str]
    """ARN of the Pulumi state bucket (StateBackend.bucket_arn). Required."""
    state_key_arn: pulumi.Input[str]
    """ARN of the state and secrets key (StateBackend.key_arn). Required."""
    role_prefix: str
    """Prefix of the role and boundary names (`heal7-github`); the workflows name the roles. Required."""
    existing_oidc_provider_arn: str | None = None
    """The account's GitHub OIDC provider if one exists (IAM allows one per URL). Default None: create it."""
    max_session_seconds: int = 14400
    """Longest session a role grants, in seconds (IAM: 3600-43200). Default 14400: a first prod `up`
    (EKS, Multi-AZ RDS, GKE, the Cloud SQL replica) can outlast an hour, and a job's credentials
    do not refresh (deploy.yml asks for the same duration)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource; must not carry `environment` (the deploy boundaries key on it). Default none."""


class AwsCiIdentity(pulumi.ComponentResource):
    """OIDC provider, per-environment deploy roles with boundaries, preview and drift roles."""

    oidc_provider_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsCiIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.environments:
            raise ValueError(f"AwsCiIdentity {name}: at least one environment is required")
        if ENVIRONMENT_TAG in args.tags:
            raise ValueError(
                f"AwsCiIdentity {name}: tags must not set {ENVIRONMENT_TAG!r}; the deploy boundaries key on it"
            )
        if not 3600 <= args.max_session_seconds <= 43200:
            raise ValueError(f"AwsCiIdentity {name}: max_session_seconds must be within 3600-43200")
        super().__init__("platform:bootstrap:AwsCiIdentity", name, None, opts)
        self._args = args
        self._context = context = AwsContext.of(self)
        child = pulumi.ResourceOptions(parent=self)

        if args.existing_oidc_provider_arn:
            provider_arn: pulumi.Output[str] = pulumi.Output.from_input(args.existing_oidc_provider_arn)
        else:
            provider_arn = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{GITHUB_ISSUER}",
                client_id_lists=[STS_AUDIENCE],
                tags={**args.tags, "Name": f"{name}-github-oidc"},
                opts=child,
            ).arn
        self._provider_arn = provider_arn

        state_read = state_read_statements(args.state_bucket_arn, args.state_key_arn)
        self.deploy_role_arns = {}
        for environment in args.environments:
            boundary = aws.iam.Policy(
                f"{name}-deploy-boundary-{environment}",
                name=f"{args.role_prefix}-deploy-boundary-{environment}",
                description=f"Ceiling of the {environment} deploy role: everything but the denied",
                policy=policy_document(
                    *boundary_statements(
                        context, args.role_prefix, environment, args.state_bucket_arn, args.state_key_arn
                    )
                ),
                tags=args.tags,
                opts=child,
            )
            role = self._role(
                f"{name}-deploy-{environment}",
                f"{args.role_prefix}-deploy-{environment}",
                [f"repo:{args.repository}:environment:{environment}"],
                f"pulumi up of stack {environment} from its GitHub environment",
                permissions_boundary=boundary.arn,
            )
            # Under the boundary above, which removes what a deploy never needs.
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy-{environment}-admin",
                role=role.name,
                policy_arn=context.aws_managed_policy("AdministratorAccess"),
                opts=child,
            )
            self.deploy_role_arns[environment] = role.arn

        preview = self._role(
            f"{name}-preview",
            f"{args.role_prefix}-preview",
            [f"repo:{args.repository}:pull_request"],
            "pulumi preview of a pull request (read-only)",
        )
        self._read_only(f"{name}-preview", preview)
        aws.iam.RolePolicy(
            f"{name}-preview-state",
            role=preview.id,
            policy=policy_document(
                *state_read,
                {
                    "Sid": "NoDataReadsOutsideTheState",
                    "Effect": "Deny",
                    "Action": DATA_READS,
                    "NotResource": [pulumi.Output.concat(args.state_bucket_arn, "/*")],
                },
            ),
            opts=child,
        )
        drift = self._role(
            f"{name}-drift",
            f"{args.role_prefix}-drift",
            [f"repo:{args.repository}:ref:refs/heads/main"],
            "nightly pulumi preview --refresh of every stack (read-only)",
        )
        self._read_only(f"{name}-drift", drift)
        aws.iam.RolePolicy(
            f"{name}-drift-state",
            role=drift.id,
            policy=policy_document(
                *state_read,
                {
                    # A refresh reads back the stacks' secretsmanager.SecretVersion values.
                    "Sid": "RefreshSecretVersions",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                },
                {
                    # Those secrets are encrypted with the stacks' customer keys.
                    "Sid": "DecryptSecretsThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
                },
            ),
            opts=child,
        )

        self.oidc_provider_arn = provider_arn
        self.preview_role_arn = preview.arn
        self.drift_role_arn = drift.arn
        self.register_outputs(
            {
                "oidc_provider_arn": provider_arn,
                "deploy_role_arns": self.deploy_role_arns,
                "preview_role_arn": preview.arn,
                "drift_role_arn": drift.arn,
            }
        )

    def _role(
        self,
        key: str,
        role_name: str,
        subjects: list[str],
        description: str,
        permissions_boundary: pulumi.Input[str] | None = None,
    ) -> aws.iam.Role:
        """A role only GitHub tokens for this audience and these exact subjects can assume."""
        trust = policy_document(
            {
                "Sid": "GitHubActions",
                "Effect": "Allow",
                "Principal": {"Federated": self._provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                # StringEquals, never StringLike: a wildcard in sub is how trust leaks to
                # other repositories, branches or environments.
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_ISSUER}:aud": STS_AUDIENCE,
                        f"{GITHUB_ISSUER}:sub": subjects,
                    }
                },
            }
        )
        return aws.iam.Role(
            key,
            name=role_name,
            description=description,
            assume_role_policy=trust,
            permissions_boundary=permissions_boundary,
            max_session_duration=self._args.max_session_seconds,
            tags={**self._args.tags, "Name": role_name},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _read_only(self, key: str, role: aws.iam.Role) -> None:
        aws.iam.RolePolicyAttachment(
            f"{key}-read-only",
            role=role.name,
            policy_arn=self._context.aws_managed_policy("ReadOnlyAccess"),
            opts=pulumi.ResourceOptions(parent=self),
        )
