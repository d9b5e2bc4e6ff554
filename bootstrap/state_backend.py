"""StateBackend: the S3 bucket that holds the Pulumi state of every stack, and the KMS key
that encrypts it and the stacks' secrets (`--secrets-provider awskms://alias/<name>-pulumi-secrets`).

A self-managed backend rather than Pulumi Cloud: the pipelines then reach state through the
same OIDC roles as the clouds, and a pull request's preview role can be limited to reading
it (docs/ci.md). One key for the objects and the secrets: whoever may read the state needs
both anyway, and one key policy is one thing to audit.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws._iam_documents import policy_document
from components.aws._kms import customer_key
from components.aws._s3 import private_bucket


@dataclass
class StateBackendArgs:
    """Inputs of StateBackend."""

    noncurrent_expire_after_days: int = 90
    """Days an overwritten state checkpoint stays recoverable as a noncurrent version. Default 90."""
    protect: bool = True
    """`protect` the bucket and its key: losing either loses every stack's state. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class StateBackend(pulumi.ComponentResource):
    """State bucket (private, versioned, TLS only, KMS-encrypted) and its key."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    key_alias: str
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None):
        if args.noncurrent_expire_after_days < 1:
            raise ValueError(f"StateBackend {name}: noncurrent_expire_after_days must be at least 1")
        super().__init__("platform:bootstrap:StateBackend", name, None, opts)
        context = AwsContext.of(self)

        key = customer_key(
            f"{name}-pulumi-secrets",
            description=f"Encrypts the Pulumi state and stack secrets of {name}",
            context=context,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        # Never emptied on delete: the state of every stack is in it. State holds resource ids,
        # endpoints and ciphertexts: never public. Every `up` rewrites the checkpoint: versioning
        # keeps the previous ones, so a corrupted or wrongly imported state can be rolled back.
        private = private_bucket(
            f"{name}-state",
            bucket_prefix=f"{name}-pulumi-state-",
            key_arn=key.arn,
            force_destroy=False,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        bucket, public_access_block, versioning = private.bucket, private.public_access_block, private.versioning
        # Old checkpoints are only for rollback; without an expiry every `up` adds one forever.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-checkpoints",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_expire_after_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        objects_arn = pulumi.Output.concat(bucket.arn, "/*")
        aws.s3.BucketPolicy(
            f"{name}-state-policy",
            bucket=bucket.id,
            policy=policy_document(
                {
                    # TLS only (S3.5).
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, objects_arn],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
            # S3 rejects a bucket policy while the public access block is being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.key_alias = f"alias/{name}-pulumi-secrets"
        # What `pulumi login` and `pulumi stack init --secrets-provider` take (docs/ci.md).
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket, "?region=", context.region)
        self.secrets_provider = pulumi.Output.concat("awskms://", self.key_alias, "?region=", context.region)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "backend_url": self.backend_url,
                "secrets_provider": self.secrets_provider,
            }
        )
