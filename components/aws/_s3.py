"""The private S3 bucket both buckets of the platform start from (the backup bucket, the
bootstrap's state bucket); each adds its own lifecycle and policy."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    """S3 rejects a bucket policy while this is being applied: a policy depends on it."""
    versioning: aws.s3.BucketVersioning
    """A lifecycle on noncurrent versions depends on it."""


def private_bucket(
    name: str,
    *,
    bucket_prefix: str,
    key_arn: pulumi.Input[str],
    force_destroy: bool,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
) -> PrivateBucket:
    """`{name}-bucket` with ACLs off, public access blocked, versioning on and SSE-KMS under
    `key_arn` with a bucket key; children `{name}-ownership`, `-public-access`, `-versioning`,
    `-encryption`. Bucket names are global: `bucket_prefix` lets the provider pick a free one."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        f"{name}-bucket",
        bucket_prefix=bucket_prefix,
        force_destroy=force_destroy,
        tags={**tags, "Name": f"{name}-bucket"},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    # ACLs off: only the bucket policy and IAM decide access (AWS FSBP S3.12).
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    # Never public, whatever a later policy or ACL says (S3.1/S3.8).
    public_access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    # An overwrite or delete leaves the previous object as a noncurrent version (S3.14).
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms",
                    kms_master_key_id=key_arn,
                ),
                # A bucket-level data key: far fewer KMS requests (and costs) per object.
                bucket_key_enabled=True,
            )
        ],
        opts=child,
    )
    return PrivateBucket(bucket, public_access_block, versioning)
