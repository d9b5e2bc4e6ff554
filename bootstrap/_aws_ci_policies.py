"""Policy statements of the AWS CI roles (bootstrap/aws_ci_identity.py): the deploy roles'
permissions boundary and the state-read grant of the read-only roles."""

import pulumi

from components.aws._context import AwsContext
from components.aws._iam_documents import Document

GITHUB_ISSUER = "token.actions.githubusercontent.com"
ENVIRONMENT_TAG = "environment"
"""The tag the platform's AWS provider stamps on every resource (stacks/config/models.py common_tags)."""

# A pull request's preview reads no cloud data: refusing these keeps its code from reading
# backups, secrets, parameters or logs through ReadOnlyAccess. It still decrypts the stacks'
# state and config secrets with the state key (docs/ci.md, "Honest limits").
DATA_READS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]
# What would let a deploy role widen its own access or leave credentials behind.
LONG_LIVED_CREDENTIALS = [
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
]
STATE_BUCKET_PROTECTIONS = [
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:DeleteObjectVersion",
]
STATE_KEY_PROTECTIONS = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:CreateGrant"]


def state_read_statements(state_bucket_arn: pulumi.Input[str], state_key_arn: pulumi.Input[str]) -> list[Document]:
    """Read the state (list the bucket, get checkpoints) and decrypt it and the stack secrets."""
    return [
        {
            "Sid": "ReadPulumiState",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [state_bucket_arn, pulumi.Output.concat(state_bucket_arn, "/*")],
        },
        {
            "Sid": "DecryptPulumiStateAndSecrets",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": state_key_arn,
        },
    ]


def boundary_statements(
    context: AwsContext,
    role_prefix: str,
    environment: str,
    state_bucket_arn: pulumi.Input[str],
    state_key_arn: pulumi.Input[str],
) -> list[Document]:
    """The deploy role's permissions boundary: allow everything except the denied."""
    ci_identities = [
        context.arn("iam", f"role/{role_prefix}-*", region=False),
        context.arn("iam", f"policy/{role_prefix}-*", region=False),
        context.arn("iam", f"oidc-provider/{GITHUB_ISSUER}", region=False),
    ]
    return [
        {"Sid": "Ceiling", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            # A deploy role cannot rewrite its own trust, boundary or policies, nor another CI role's.
            "Sid": "CiIdentitiesAreReadOnly",
            "Effect": "Deny",
            "NotAction": ["iam:Get*", "iam:List*"],
            "Resource": ci_identities,
        },
        {"Sid": "NoLongLivedCredentials", "Effect": "Deny", "Action": LONG_LIVED_CREDENTIALS, "Resource": "*"},
        {
            "Sid": "StateBucketStaysProtected",
            "Effect": "Deny",
            "Action": STATE_BUCKET_PROTECTIONS,
            "Resource": [state_bucket_arn, pulumi.Output.concat(state_bucket_arn, "/*")],
        },
        {
            "Sid": "StateKeyStaysUsable",
            "Effect": "Deny",
            "Action": STATE_KEY_PROTECTIONS,
            "Resource": state_key_arn,
        },
        {
            # One account holds every stack: the environment tag (the platform's
            # default_tags) keeps the dev role off staging and prod resources.
            "Sid": "OnlyThisEnvironmentsResources",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {f"aws:ResourceTag/{ENVIRONMENT_TAG}": environment},
                "Null": {f"aws:ResourceTag/{ENVIRONMENT_TAG}": "false"},
            },
        },
        {
            "Sid": "OnlyThisEnvironmentsTags",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {f"aws:RequestTag/{ENVIRONMENT_TAG}": environment},
                "Null": {f"aws:RequestTag/{ENVIRONMENT_TAG}": "false"},
            },
        },
    ]
