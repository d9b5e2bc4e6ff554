"""BackupBucket: the private, versioned, KMS-encrypted S3 bucket of the nightly database dumps.

Private (S3.1/S3.8), TLS only (S3.5), versioned (S3.14) and encrypted with a customer key;
the lifecycle moves dumps to cheaper storage and expires them. `writer_policy` is the
write-only grant for the dump job: a compromised writer can neither read nor destroy
earlier backups.

Overwrites are refused with S3 conditional writes, not Object Lock. Versioning alone does
not protect a dump: a plain PutObject on a known key makes the old dump noncurrent, and
the lifecycle deletes noncurrent versions after `noncurrent_expire_after_days`. So every
object-creating write (PutObject, CompleteMultipartUpload) must carry `If-None-Match: *`,
which S3 refuses with 412 when the key exists (AWS S3 User Guide, "Enforce conditional
writes on Amazon S3 buckets"). Object Lock would also work but is heavier for this job:
it must be on at bucket creation, compliance-mode retention cannot be shortened even by
the account root (a wrong value is paid for until it runs out), and locked objects keep a
dev stack's bucket from being destroyed. Conditional writes cost nothing, can be changed
later, and keep `force_destroy` for unprotected stacks. Side effects, by design:
- the dump job must send `If-None-Match: *`. Today's high-level uploaders do not (`aws s3
  cp` has no such flag; boto3's upload_file/upload_fileobj do not pass IfNoneMatch), so a
  dump of more than 5 GB needs its own multipart upload (create_multipart_upload,
  upload_part, then complete_multipart_upload with IfNoneMatch='*'); a smaller file can go
  in one `aws s3api put-object --if-none-match '*'`;
- CopyObject into the bucket works only with If-None-Match to a new key (S3 accepts the
  header on copies since October 2025); restore an old version by reading it with its
  versionId and writing it under a new key, never over the old one.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws._iam_documents import policy_document
from components.aws._kms import customer_key
from components.aws._s3 import private_bucket

MULTIPART_ABORT_DAYS = 7
"""Parts of an interrupted upload are billed but invisible; a week is ample to resume."""
POSTGRES_PREFIX = "postgres/"
"""Where the PostgreSQL dumps live (`postgres/<database>/<UTC timestamp>.dump`); the restore
drill's reader may read this prefix and nothing else."""


@dataclass
class BackupBucketArgs:
    """Inputs of BackupBucket. Defaults favour retention and protection."""

    infrequent_access_after_days: int = 30
    """Days before a dump moves to STANDARD_IA (S3 requires at least 30). Default 30."""
    glacier_after_days: int = 90
    """Days before a dump moves to GLACIER_IR (at least 30 days after STANDARD_IA). Default 90."""
    expire_after_days: int = 365
    """Days a dump is kept; a transition at or after it is left out (short-lived dev stacks). Default 365."""
    noncurrent_expire_after_days: int = 30
    """Days a deleted dump stays recoverable as a noncurrent version. Default 30."""
    protect: bool = True
    """`protect` the bucket and its key: deleting either loses every backup. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


def _transitions(name: str, args: BackupBucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs]:
    """The transitions that happen before expiry; S3 rejects a transition at or after it."""
    days = {"STANDARD_IA": args.infrequent_access_after_days, "GLACIER_IR": args.glacier_after_days}
    kept = {storage_class: d for storage_class, d in days.items() if d < args.expire_after_days}
    # S3 requires 30 days before STANDARD_IA and 30 days in it before moving on: fail at
    # preview rather than halfway through an update.
    infrequent, glacier = kept.get("STANDARD_IA"), kept.get("GLACIER_IR")
    if infrequent is not None and infrequent < 30:
        raise ValueError(f"BackupBucket {name}: infrequent_access_after_days must be at least 30")
    if infrequent is not None and glacier is not None and glacier - infrequent < 30:
        raise ValueError(f"BackupBucket {name}: glacier_after_days must be 30 days after infrequent_access_after_days")
    return [
        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(storage_class=storage_class, days=d)
        for storage_class, d in kept.items()
    ]


# s3:ObjectCreationOperation is true for the requests that create an object (PutObject,
# CompleteMultipartUpload, CopyObject) and false for CreateMultipartUpload, UploadPart and
# UploadPartCopy, which take no conditional header; s3:if-none-match is absent (Null) when
# the request has no If-None-Match header. Both are AWS's own keys for "Enforce conditional
# writes on Amazon S3 buckets".
def create_only_put(objects_arn: pulumi.Input[str]) -> list[dict[str, object]]:
    """Identity-policy statements granting s3:PutObject only for writes that cannot overwrite."""
    return [
        {
            # PutObject and CompleteMultipartUpload only with If-None-Match: S3 answers 412
            # instead of replacing an existing dump.
            "Sid": "CreateDumpsOnly",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects_arn,
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        {
            # The multipart steps that store nothing visible yet (CreateMultipartUpload,
            # UploadPart; UploadPartCopy would also need s3:GetObject on its source, which the
            # writer lacks). The completion is the write, and it is held to the rule above.
            "Sid": "UploadDumpParts",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects_arn,
            "Condition": {"Bool": {"s3:ObjectCreationOperation": "false"}},
        },
    ]


def deny_overwrites(objects_arn: pulumi.Input[str]) -> dict[str, object]:
    """Bucket-policy statement refusing any object-creating write without If-None-Match."""
    return {
        "Sid": "DenyWritesThatCouldOverwrite",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": objects_arn,
        "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
    }


class BackupBucket(pulumi.ComponentResource):
    """Bucket, its KMS key, access/TLS/versioning/lifecycle settings and a writer policy."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    writer_policy: pulumi.Output[str]
    reader_policy: pulumi.Output[str]

    def __init__(self, name: str, args: BackupBucketArgs, opts: pulumi.ResourceOptions | None = None):
        if min(args.expire_after_days, args.noncurrent_expire_after_days) < 1:
            raise ValueError(f"BackupBucket {name}: expiry days must be at least 1")
        transitions = _transitions(name, args)
        super().__init__("platform:aws:BackupBucket", name, None, opts)
        aws_context = AwsContext.of(self)

        key = customer_key(
            name,
            description=f"Encrypts the database backups of {name}",
            context=aws_context,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        # Protected stacks never empty the bucket on delete; a dev stack may. Versioning keeps an
        # overwritten or deleted dump as a noncurrent version (until the lifecycle expires it).
        private = private_bucket(
            name,
            bucket_prefix=f"{name}-",
            key_arn=key.arn,
            force_destroy=not args.protect,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        bucket, public_access_block, versioning = private.bucket, private.public_access_block, private.versioning
        objects_arn = pulumi.Output.concat(bucket.arn, "/*")
        deny_all: dict[str, object] = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket.arn, objects_arn],
        }
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(
                # Plain HTTP would expose the dumps in transit (S3.5); so would TLS 1.0/1.1.
                {**deny_all, "Sid": "DenyInsecureTransport", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {**deny_all, "Sid": "DenyTlsBelow12", "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
                # No principal overwrites a dump, whatever IAM grants it later: every
                # object-creating write must carry If-None-Match (see the module docstring).
                deny_overwrites(objects_arn),
            ),
            # S3 rejects a PutBucketPolicy while a PutPublicAccessBlock on the same bucket
            # is in flight ("conflicting conditional operation"), so they run in sequence.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="backup-retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=transitions or None,
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_after_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_expire_after_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=MULTIPART_ABORT_DAYS
                    ),
                )
            ],
            # S3 applies noncurrent-version rules according to the bucket's versioning
            # state, so versioning is switched on first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        self.bucket_name = bucket.id
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        # Write-only: no GetObject, DeleteObject or ListBucket, so the dump job cannot read,
        # enumerate or destroy earlier backups; and create-only, so it cannot overwrite them.
        self.writer_policy = policy_document(
            *create_only_put(objects_arn),
            {
                # Aborting touches only an unfinished upload, never a stored dump.
                "Sid": "ManageOwnUploads",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": objects_arn,
            },
            {
                # S3 needs kms:Decrypt to complete a multipart upload of an SSE-KMS object.
                "Sid": "EncryptDumps",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key.arn,
            },
        )
        # Read-only and only the PostgreSQL dumps: the restore drill lists and reads them and can
        # neither write, delete nor see another prefix. It decrypts only through S3 in this region
        # (kms:ViaService), so the grant is no use outside a GetObject.
        self.reader_policy = policy_document(
            {
                "Sid": "ReadPostgresDumps",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": pulumi.Output.concat(bucket.arn, "/", POSTGRES_PREFIX, "*"),
            },
            {
                "Sid": "ListPostgresDumps",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket.arn,
                "Condition": {"StringLike": {"s3:prefix": f"{POSTGRES_PREFIX}*"}},
            },
            {
                "Sid": "DecryptDumpsThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key.arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": pulumi.Output.concat("s3.", aws_context.region, ".", aws_context.dns_suffix)
                    }
                },
            },
        )
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "writer_policy": self.writer_policy,
                "reader_policy": self.reader_policy,
            }
        )
