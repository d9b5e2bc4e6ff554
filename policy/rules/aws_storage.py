"""Storage and key controls: S3 buckets, KMS keys, ECR repositories, CloudWatch log
groups and Secrets Manager secrets."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import (
    Config,
    ResourceControl,
    as_json,
    as_list,
    aws_fsbp,
    checkov,
    cis_aws,
    cis_eks,
    get,
    is_true,
    security_hub,
)

FAMILY = "aws-storage"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
]
BUCKET_VERSIONING = ["aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"]
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def statements(policy_document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM/KMS/S3 policy given as a JSON string or an object."""
    document = as_json(policy_document) or {}
    return [
        s
        for s in as_list(get(document, "Statement") if isinstance(document, Mapping) else None)
        if isinstance(s, Mapping)
    ]


def _public_access_block(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if not is_true(get(args.props, flag))]
    if off:
        yield f"public access is not blocked: {off} are off"


def _bucket_kms_encryption(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    rules = as_list(get(args.props, "rules"))
    algorithms = [get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm") for rule in rules]
    if not any(a in KMS_ALGORITHMS for a in algorithms):
        yield f"objects are not encrypted with a KMS key (sseAlgorithm {algorithms or 'unset'})"


def _bucket_versioning(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    status = get(args.props, "versioningConfiguration.status")
    if status != "Enabled":
        yield f"versioning is {status or 'unset'}, so an overwrite or delete loses the object"


def denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    condition = get(statement, "Condition.Bool") or {}
    return (
        statement.get("Effect") == "Deny"
        and str(condition.get("aws:SecureTransport", "")).lower() == "false"
        and _is_wildcard_principal(statement.get("Principal"))
    )


def _bucket_tls_only(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not any(denies_insecure_transport(s) for s in statements(get(args.props, "policy"))):
        yield "the bucket policy does not deny requests without TLS (aws:SecureTransport false)"


def _is_wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(value == "*" or "*" in as_list(value) for value in principal.values())
    return False


def _kms_rotation(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    # Rotation applies to symmetric keys only; asymmetric and HMAC keys cannot rotate.
    spec = get(args.props, "customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and not is_true(get(args.props, "enableKeyRotation")):
        yield "automatic yearly key rotation is off (enableKeyRotation)"


def _kms_no_wildcard_principal(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for statement in statements(get(args.props, "policy")):
        # An Allow to "*" without a condition hands the key to any AWS account.
        if (
            statement.get("Effect") == "Allow"
            and _is_wildcard_principal(statement.get("Principal"))
            and not statement.get("Condition")
        ):
            yield f"statement {statement.get('Sid', '(no Sid)')!r} allows any principal ('*') without a condition"


def _ecr_immutable(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    mutability = get(args.props, "imageTagMutability") or "MUTABLE"
    if not mutability.startswith("IMMUTABLE"):
        yield f"image tags are {mutability}, so a pushed tag can be replaced (imageTagMutability)"


def _ecr_scan_on_push(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if not is_true(get(args.props, "imageScanningConfiguration.scanOnPush")):
        yield "images are not scanned on push (imageScanningConfiguration.scanOnPush)"


def _ecr_kms(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    configurations = as_list(get(args.props, "encryptionConfigurations"))
    if not any(get(c, "encryptionType") == "KMS" and get(c, "kmsKey") for c in configurations):
        yield "images are not encrypted with a customer KMS key (encryptionConfigurations)"


def _require_kms_key(prop: str, what: str):
    def check(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
        if not get(args.props, prop):
            yield f"{what} uses the AWS-managed key, not a customer key ({prop})"

    return check


POLICIES = [
    ResourceControl(
        name="s3-public-access-block",
        description="S3 bucket public access blocks turn on all four flags.",
        severity=Severity.CRITICAL,
        framework=cis_aws("2.1.4"),
        family=FAMILY,
        resource_types=[PUBLIC_ACCESS_BLOCK],
        when_absent="insecure: each flag defaults to false; a bucket with no block at all is caught by "
        "s3-bucket-guardrails",
        remediation="set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets true",
        check=_public_access_block,
    ),
    ResourceControl(
        name="s3-kms-encryption",
        description="S3 buckets encrypt objects by default with a KMS key.",
        severity=Severity.HIGH,
        framework=security_hub("S3.17"),
        family=FAMILY,
        resource_types=BUCKET_ENCRYPTION,
        when_absent="insecure for this control: S3's own default is SSE-S3, not a customer KMS key",
        remediation="set rules[].applyServerSideEncryptionByDefault.sseAlgorithm 'aws:kms' with kmsMasterKeyId",
        check=_bucket_kms_encryption,
    ),
    ResourceControl(
        name="s3-versioning",
        description="S3 buckets keep object versions.",
        severity=Severity.MEDIUM,
        framework=security_hub("S3.14"),
        family=FAMILY,
        resource_types=BUCKET_VERSIONING,
        when_absent="insecure: buckets start unversioned",
        remediation="set versioningConfiguration.status 'Enabled'",
        check=_bucket_versioning,
    ),
    ResourceControl(
        name="s3-tls-only",
        description="S3 bucket policies deny every request made without TLS.",
        severity=Severity.HIGH,
        framework=cis_aws("2.1.1"),
        family=FAMILY,
        resource_types=[BUCKET_POLICY],
        when_absent="insecure: S3 accepts plain HTTP unless a policy denies aws:SecureTransport false",
        remediation="add a Deny statement for Principal '*' and s3:* with Condition Bool aws:SecureTransport 'false'",
        check=_bucket_tls_only,
    ),
    ResourceControl(
        name="kms-key-rotation",
        description="Symmetric KMS keys rotate automatically.",
        severity=Severity.MEDIUM,
        framework=cis_aws("3.6"),
        family=FAMILY,
        resource_types=[KMS_KEY],
        when_absent="insecure: enableKeyRotation defaults to false",
        remediation="set enableKeyRotation true",
        check=_kms_rotation,
    ),
    ResourceControl(
        name="kms-no-wildcard-principal",
        description="KMS key policies never allow any principal ('*') without a condition.",
        severity=Severity.CRITICAL,
        framework=checkov("CKV_AWS_33"),
        family=FAMILY,
        resource_types=[KMS_KEY],
        when_absent="secure: without a policy AWS applies the default key policy (the account's IAM only)",
        remediation="name the account root, roles or services as principals, or add a condition",
        check=_kms_no_wildcard_principal,
    ),
    ResourceControl(
        name="ecr-immutable-tags",
        description="ECR repositories make image tags immutable.",
        severity=Severity.MEDIUM,
        framework=aws_fsbp("ECR.2"),
        family=FAMILY,
        resource_types=[ECR_REPOSITORY],
        when_absent="insecure: imageTagMutability defaults to MUTABLE",
        remediation="set imageTagMutability 'IMMUTABLE'",
        check=_ecr_immutable,
    ),
    ResourceControl(
        name="ecr-scan-on-push",
        description="ECR repositories scan every pushed image for vulnerabilities.",
        severity=Severity.MEDIUM,
        framework=cis_eks("5.1.1"),
        family=FAMILY,
        resource_types=[ECR_REPOSITORY],
        when_absent="insecure: scanOnPush defaults to false",
        remediation="set imageScanningConfiguration.scanOnPush true",
        check=_ecr_scan_on_push,
    ),
    ResourceControl(
        name="ecr-kms-encryption",
        description="ECR repositories encrypt images with a customer KMS key.",
        severity=Severity.LOW,
        framework=checkov("CKV_AWS_136"),
        family=FAMILY,
        resource_types=[ECR_REPOSITORY],
        when_absent="insecure for this control: ECR defaults to AES256 with an AWS-owned key",
        remediation="set encryptionConfigurations [{encryptionType: 'KMS', kmsKey: <key arn>}]",
        check=_ecr_kms,
    ),
    ResourceControl(
        name="log-group-kms-encryption",
        description="CloudWatch log groups are encrypted with a customer KMS key.",
        severity=Severity.LOW,
        framework=checkov("CKV_AWS_158"),
        family=FAMILY,
        resource_types=[LOG_GROUP],
        when_absent="insecure for this control: CloudWatch Logs defaults to a service-owned key",
        remediation="set kmsKeyId to a rotating key whose policy admits logs.<region>.amazonaws.com",
        check=_require_kms_key("kmsKeyId", "the log group"),
    ),
    ResourceControl(
        name="secretsmanager-kms-encryption",
        description="Secrets Manager secrets are encrypted with a customer KMS key.",
        severity=Severity.LOW,
        framework=checkov("CKV_AWS_149"),
        family=FAMILY,
        resource_types=[SECRET],
        when_absent="insecure for this control: the default is the aws/secretsmanager managed key",
        remediation="set kmsKeyId to the owning component's key",
        check=_require_kms_key("kmsKeyId", "the secret"),
    ),
]
