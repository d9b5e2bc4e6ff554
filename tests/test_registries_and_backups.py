"""Each stack end to end under mocks: the ECR registries, the backup bucket and its writer role."""

import json

import pytest

from components.aws.ecr_repositories import EcrRepositories, EcrRepositoriesArgs
from tests.conftest import STACKS

ECR_COMPONENT = "platform:aws:EcrRepositories"
BACKUP_COMPONENT = "platform:aws:BackupBucket"
IRSA_COMPONENT = "platform:aws:IrsaRole"
KMS_KEY = "aws:kms/key:Key"
REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# The HEAL7 design's three EKS workloads and its base image (platform:images.baseRepository).
WORKLOADS = ("web-main", "api-gateway", "saju-engine", "base")
PROTECTED = {"dev": False, "staging": False, "prod": True}
# (transitions before expiry, expiry days): a transition due at or after expiry is left out.
RETENTION = {
    "dev": ([], 14),
    "staging": ([("STANDARD_IA", 30)], 35),
    "prod": ([("STANDARD_IA", 30), ("GLACIER_IR", 90)], 365),
}


# -- selection: always through the owning component, never a bare `one(TYPE)` ------------


def _ecr(result):
    return result.one(ECR_COMPONENT, f"heal7-{result.stack}-ecr")


def _backups(result):
    return result.one(BACKUP_COMPONENT, f"heal7-{result.stack}-backups")


def _children(result, parent, type_token):
    return [r for r in result.children_of(parent) if r.type == type_token]


def _only_child(result, parent, type_token, name=None):
    matches = [r for r in _children(result, parent, type_token) if name is None or r.name == name]
    assert len(matches) == 1, f"expected one {type_token} {name or ''} under {parent.name}, found {len(matches)}"
    return matches[0]


def _descendants(result, parent):
    found = []
    for child in result.children_of(parent):
        found.append(child)
        found.extend(_descendants(result, child))
    return found


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def _writer(result):
    """The writer IrsaRole component and its role and inline-policy children."""
    prefix = f"heal7-{result.stack}-backups-writer"
    component = result.one(IRSA_COMPONENT, prefix)
    role = _only_child(result, component, ROLE, f"{prefix}-role")
    policy = _only_child(result, component, ROLE_POLICY, f"{prefix}-policy")
    return component, role, policy


# -- ECR --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_ecr_has_exactly_the_workload_repositories_immutable_scanned_and_kms_encrypted(synthed, stack):
    result = synthed(stack)
    ecr = _ecr(result)
    key = _only_child(result, ecr, KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    repositories = _children(result, ecr, REPOSITORY)
    assert sorted(r.inputs["name"] for r in repositories) == sorted(f"heal7-{stack}/{w}" for w in WORKLOADS)
    for repository in repositories:
        assert repository.id == repository.inputs["name"]
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": key.outputs["arn"]}
        ]
        assert key.urn in repository.dependencies
        # Only an unprotected (dev/staging) stack may delete a repository holding images.
        assert repository.inputs.get("forceDelete", False) is (stack != "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_each_ecr_repository_has_its_own_lifecycle_policy(synthed, stack):
    result = synthed(stack)
    ecr = _ecr(result)
    repositories = _children(result, ecr, REPOSITORY)
    policies = _children(result, ecr, ECR_LIFECYCLE)
    assert len(policies) == len(repositories) == len(WORKLOADS)
    for repository in repositories:
        (policy,) = [p for p in policies if p.inputs["repository"] == repository.id]
        assert policy.inputs["repository"] == repository.inputs["name"]
        assert repository.urn in policy.dependencies
        rules = json.loads(policy.inputs["policy"])["rules"]
        priorities = [rule["rulePriority"] for rule in rules]
        assert len(set(priorities)) == len(priorities)
        assert all(rule["action"] == {"type": "expire"} for rule in rules)
        (untagged,) = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 7,
        }
        (catch_all,) = [r for r in rules if r["selection"]["tagStatus"] == "any"]
        assert catch_all["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30}
        # ECR requires the `tagStatus: any` rule to be evaluated last.
        assert catch_all["rulePriority"] == max(priorities)


@pytest.mark.parametrize("stack", STACKS)
def test_ecr_repository_urls_output_maps_each_workload_to_its_repository(synthed, stack):
    result = synthed(stack)
    ecr = _ecr(result)
    by_name = {r.inputs["name"]: r for r in _children(result, ecr, REPOSITORY)}
    account = _only_child(result, ecr, KMS_KEY).outputs["arn"].split(":")[4]
    urls = result.outputs["ecrRepositoryUrls"]
    assert set(urls) == set(WORKLOADS)
    for workload, url in urls.items():
        assert url == by_name[f"heal7-{stack}/{workload}"].outputs["repositoryUrl"]
        assert url == f"{account}.dkr.ecr.ap-northeast-2.amazonaws.com/heal7-{stack}/{workload}"


# -- backup bucket -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_backup_bucket_is_versioned_kms_encrypted_private_and_owner_enforced(synthed, stack):
    result = synthed(stack)
    backups = _backups(result)
    bucket = _only_child(result, backups, BUCKET)
    key = _only_child(result, backups, KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert bucket.inputs["bucketPrefix"] == f"heal7-{stack}-backups-"
    assert bucket.inputs.get("forceDestroy", False) is (stack != "prod")  # dev/staging can be torn down
    assert result.outputs["backupBucketName"] == bucket.id

    versioning = _only_child(result, backups, VERSIONING)
    assert versioning.inputs["bucket"] == bucket.id
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"

    encryption = _only_child(result, backups, ENCRYPTION)
    assert encryption.inputs["bucket"] == bucket.id
    assert encryption.inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]},
            "bucketKeyEnabled": True,
        }
    ]
    assert key.urn in encryption.dependencies

    public_access = _only_child(result, backups, PUBLIC_ACCESS_BLOCK)
    assert public_access.inputs == {
        "bucket": bucket.id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }

    ownership = _only_child(result, backups, OWNERSHIP)
    assert ownership.inputs == {"bucket": bucket.id, "rule": {"objectOwnership": "BucketOwnerEnforced"}}


@pytest.mark.parametrize("stack", STACKS)
def test_backup_bucket_policy_denies_insecure_transport_and_old_tls(synthed, stack):
    result = synthed(stack)
    backups = _backups(result)
    bucket = _only_child(result, backups, BUCKET)
    policy = _only_child(result, backups, BUCKET_POLICY)
    assert policy.inputs["bucket"] == bucket.id
    # S3 rejects a bucket policy while the public access block is still being written.
    assert _only_child(result, backups, PUBLIC_ACCESS_BLOCK).urn in policy.dependencies

    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    arn = bucket.outputs["arn"]
    transport = [statements.pop("DenyInsecureTransport"), statements.pop("DenyTlsBelow12")]
    for statement in transport:
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert _as_list(statement["Action"]) == ["s3:*"]
        assert sorted(_as_list(statement["Resource"])) == sorted([arn, f"{arn}/*"])
    conditions = [s["Condition"] for s in transport]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions
    # The third and last statement: no principal overwrites a dump (see the next test).
    assert list(statements) == ["DenyWritesThatCouldOverwrite"]


@pytest.mark.parametrize("stack", STACKS)
def test_backup_bucket_policy_refuses_every_write_that_could_overwrite_a_dump(synthed, stack):
    """A plain PutObject on a known key would make the old dump noncurrent, and the lifecycle
    deletes noncurrent versions: every object-creating write must carry If-None-Match."""
    result = synthed(stack)
    backups = _backups(result)
    arn = _only_child(result, backups, BUCKET).outputs["arn"]
    policy = _only_child(result, backups, BUCKET_POLICY)
    (deny,) = [
        s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "DenyWritesThatCouldOverwrite"
    ]
    assert deny == {
        "Sid": "DenyWritesThatCouldOverwrite",
        "Effect": "Deny",
        "Principal": "*",
        # PutObject is also the permission of CompleteMultipartUpload and CopyObject.
        "Action": "s3:PutObject",
        "Resource": f"{arn}/*",
        # Both conditions must hold: a creating request (not CreateMultipartUpload or
        # UploadPart, which take no conditional header) without If-None-Match.
        "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_backup_lifecycle_follows_the_tier_retention(synthed, stack):
    result = synthed(stack)
    backups = _backups(result)
    bucket = _only_child(result, backups, BUCKET)
    lifecycle = _only_child(result, backups, BUCKET_LIFECYCLE)
    assert lifecycle.inputs["bucket"] == bucket.id
    # Noncurrent-version expiry only applies once versioning is on.
    assert _only_child(result, backups, VERSIONING).urn in lifecycle.dependencies

    (rule,) = lifecycle.inputs["rules"]
    transitions, expire_days = RETENTION[stack]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}  # the whole bucket
    assert [(t["storageClass"], t["days"]) for t in rule.get("transitions") or []] == transitions
    assert rule["expiration"] == {"days": expire_days}
    assert all(days < expire_days for _, days in transitions)
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


# -- the backup writer's IRSA role -----------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_backup_writer_role_trusts_only_the_backup_service_account(synthed, stack):
    result = synthed(stack)
    component, role, _ = _writer(result)
    assert component.parent == _backups(result).urn
    issuer_url = result.outputs["eksOidcIssuerUrl"]
    assert issuer_url.startswith("https://")
    issuer_host = issuer_url.removeprefix("https://")

    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": result.outputs["eksOidcProviderArn"]},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                f"{issuer_host}:sub": "system:serviceaccount:backups:postgres-dump",
                f"{issuer_host}:aud": "sts.amazonaws.com",
            }
        },
    }
    assert result.outputs["backupWriterRoleArn"] == role.outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_backup_writer_policy_is_write_only(synthed, stack):
    result = synthed(stack)
    backups = _backups(result)
    bucket_arn = _only_child(result, backups, BUCKET).outputs["arn"]
    key_arn = _only_child(result, backups, KMS_KEY).outputs["arn"]
    component, role, policy = _writer(result)
    assert policy.inputs["role"] == role.id
    assert _children(result, component, POLICY_ATTACHMENT) == []  # the inline policy is all it gets

    statements = json.loads(policy.inputs["policy"])["Statement"]
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        for resource in _as_list(statement["Resource"]):
            granted.setdefault(resource, set()).update(_as_list(statement["Action"]))
    assert granted == {
        f"{bucket_arn}/*": {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
        key_arn: {"kms:GenerateDataKey", "kms:Decrypt"},
    }
    actions = {a for acts in granted.values() for a in acts}
    assert not any("*" in a for a in actions)
    assert not any(a == "s3:GetObject" or a.startswith("s3:DeleteObject") or a == "s3:ListBucket" for a in actions)
    assert "*" not in granted


@pytest.mark.parametrize("stack", STACKS)
def test_backup_writer_may_only_create_never_overwrite(synthed, stack):
    """Every grant of s3:PutObject carries a condition: with If-None-Match (PutObject and
    CompleteMultipartUpload), or on a non-creating multipart step (CreateMultipartUpload,
    UploadPart). An unconditional PutObject would let the writer replace a dump."""
    result = synthed(stack)
    bucket_arn = _only_child(result, _backups(result), BUCKET).outputs["arn"]
    _, _, policy = _writer(result)
    statements = json.loads(policy.inputs["policy"])["Statement"]
    puts = [s for s in statements if "s3:PutObject" in _as_list(s["Action"])]
    assert all(_as_list(s["Action"]) == ["s3:PutObject"] and s["Resource"] == f"{bucket_arn}/*" for s in puts)
    assert sorted((s["Sid"], json.dumps(s["Condition"], sort_keys=True)) for s in puts) == [
        ("CreateDumpsOnly", json.dumps({"Null": {"s3:if-none-match": "false"}})),
        ("UploadDumpParts", json.dumps({"Bool": {"s3:ObjectCreationOperation": "false"}})),
    ]
    # The statements without a condition grant nothing that writes an object.
    unconditional = {a for s in statements if "Condition" not in s for a in _as_list(s["Action"])}
    assert unconditional == {
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }


# -- protection --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_images_backups_and_their_keys_are_protected_in_prod_only(synthed, stack):
    result = synthed(stack)
    ecr, backups = _ecr(result), _backups(result)
    stateful = [
        _only_child(result, backups, BUCKET),
        _only_child(result, backups, KMS_KEY),
        _only_child(result, ecr, KMS_KEY),
        *_children(result, ecr, REPOSITORY),
    ]
    assert len(stateful) == 3 + len(WORKLOADS)
    assert all(r.protect is PROTECTED[stack] for r in stateful)
    # Nothing else in either component (aliases, policies, settings, the writer role) is protected.
    protected = {r.urn for r in _descendants(result, ecr) + _descendants(result, backups) if r.protect}
    assert protected == ({r.urn for r in stateful} if PROTECTED[stack] else set())


# -- constructor validation ----------------------------------------------------------------


def test_ecr_repositories_rejects_an_empty_repository_list():
    # Validation runs before registration, so nothing reaches the (session's) mock monitor.
    with pytest.raises(ValueError, match="EcrRepositories x: repositories is empty"):
        EcrRepositories("x", EcrRepositoriesArgs(repositories=[], name_prefix="p"))
    with pytest.raises(ValueError, match=r"duplicate repositories \['web'\]"):
        EcrRepositories("x", EcrRepositoriesArgs(repositories=["web", "web"], name_prefix="p"))
