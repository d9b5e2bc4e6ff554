"""The bootstrap program (bootstrap/): the state backend and the OIDC identities the CI
workflows use, synthesized from bootstrap/Pulumi.bootstrap.yaml under mocks."""

import copy
import json
from functools import cache
from typing import Any

import pytest

from bootstrap.config import BootstrapConfigError
from tools.synth import PROJECT_ROOT, Registration, SynthError, SynthResult, read_stack_config, synth

BOOTSTRAP = PROJECT_ROOT / "bootstrap"
REPOSITORY = "heal7/multicloud-platform"
ENVIRONMENTS = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-production"}
AUD = "token.actions.githubusercontent.com:aud"
SUB = "token.actions.githubusercontent.com:sub"


@cache
def bootstrap() -> SynthResult:
    return synth("bootstrap", project_root=BOOTSTRAP)


def stack_config() -> dict[str, Any]:
    return copy.deepcopy(read_stack_config("bootstrap", BOOTSTRAP))


def one(result: SynthResult, type_token: str, name: str) -> Registration:
    matches = [r for r in result.of_type(type_token) if r.name == name]
    assert len(matches) == 1, (type_token, name, [r.name for r in result.of_type(type_token)])
    return matches[0]


def document(registration: Registration, key: str) -> dict[str, Any]:
    return json.loads(registration.inputs[key])


def trust_condition(role: Registration) -> dict[str, Any]:
    (statement,) = document(role, "assumeRolePolicy")["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    # Only exact matches: no StringLike wildcard that would admit other subjects.
    assert set(statement["Condition"]) == {"StringEquals"}
    return statement["Condition"]["StringEquals"]


def attached(result: SynthResult, role_name: str) -> list[str]:
    return sorted(
        str(a.inputs["policyArn"]).rsplit("/", 1)[-1]
        for a in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role_name
    )


def test_the_oidc_provider_trusts_github_for_sts_without_a_thumbprint():
    (provider,) = bootstrap().of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    # IAM validates GitHub's certificate against its own CAs; a thumbprint would be ignored.
    assert "thumbprintLists" not in provider.inputs


@pytest.mark.parametrize("environment", list(ENVIRONMENTS))
def test_each_deploy_role_trusts_only_its_environment(environment: str):
    result = bootstrap()
    role = one(result, "aws:iam/role:Role", f"heal7-ci-deploy-{environment}")
    assert role.inputs["name"] == f"heal7-github-deploy-{environment}"
    assert trust_condition(role) == {AUD: "sts.amazonaws.com", SUB: [f"repo:{REPOSITORY}:environment:{environment}"]}
    # Four hours: a first prod up outlasts one, and a job's credentials do not refresh.
    assert role.inputs["maxSessionDuration"] == 14400
    assert attached(result, role.inputs["name"]) == ["AdministratorAccess"]
    boundary = one(result, "aws:iam/policy:Policy", f"heal7-ci-deploy-boundary-{environment}")
    assert role.inputs["permissionsBoundary"] == boundary.outputs["arn"]


@pytest.mark.parametrize("environment", list(ENVIRONMENTS))
def test_each_boundary_keeps_the_deploy_role_off_the_ci_identities_keys_state_and_other_environments(environment: str):
    boundary = one(bootstrap(), "aws:iam/policy:Policy", f"heal7-ci-deploy-boundary-{environment}")
    statements = {s["Sid"]: s for s in document(boundary, "policy")["Statement"]}
    assert statements["Ceiling"] == {"Sid": "Ceiling", "Effect": "Allow", "Action": "*", "Resource": "*"}
    denies = {sid for sid, s in statements.items() if s["Effect"] == "Deny"}
    assert denies == {
        "CiIdentitiesAreReadOnly",
        "NoLongLivedCredentials",
        "StateBucketStaysProtected",
        "StateKeyStaysUsable",
        "OnlyThisEnvironmentsResources",
        "OnlyThisEnvironmentsTags",
    }
    ci = statements["CiIdentitiesAreReadOnly"]
    assert ci["NotAction"] == ["iam:Get*", "iam:List*"]
    assert [r.split(":", 5)[5] for r in ci["Resource"]] == [
        "role/heal7-github-*",
        "policy/heal7-github-*",
        "oidc-provider/token.actions.githubusercontent.com",
    ]
    assert {"iam:CreateUser", "iam:CreateAccessKey"} <= set(statements["NoLongLivedCredentials"]["Action"])
    (state_bucket,) = bootstrap().of_type("aws:s3/bucket:Bucket")
    assert statements["StateBucketStaysProtected"]["Resource"][0] == state_bucket.outputs["arn"]
    assert "s3:DeleteBucket" in statements["StateBucketStaysProtected"]["Action"]
    assert statements["OnlyThisEnvironmentsResources"]["Condition"] == {
        "StringNotEquals": {"aws:ResourceTag/environment": environment},
        "Null": {"aws:ResourceTag/environment": "false"},
    }
    assert statements["OnlyThisEnvironmentsTags"]["Condition"]["StringNotEquals"] == {
        "aws:RequestTag/environment": environment
    }


def test_the_preview_role_is_for_pull_requests_reads_no_cloud_data_and_only_reads_state():
    result = bootstrap()
    role = one(result, "aws:iam/role:Role", "heal7-ci-preview")
    assert trust_condition(role) == {AUD: "sts.amazonaws.com", SUB: [f"repo:{REPOSITORY}:pull_request"]}
    assert role.inputs.get("permissionsBoundary") is None
    assert attached(result, "heal7-github-preview") == ["ReadOnlyAccess"]
    policy = one(result, "aws:iam/rolePolicy:RolePolicy", "heal7-ci-preview-state")
    statements = {s["Sid"]: s for s in document(policy, "policy")["Statement"]}
    (bucket,) = result.of_type("aws:s3/bucket:Bucket")
    (key,) = result.of_type("aws:kms/key:Key")
    assert statements["ReadPulumiState"]["Action"] == ["s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion"]
    assert statements["ReadPulumiState"]["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]
    assert statements["DecryptPulumiStateAndSecrets"]["Resource"] == key.outputs["arn"]
    no_data = statements["NoDataReadsOutsideTheState"]
    assert no_data["Effect"] == "Deny"
    assert {"s3:GetObject", "secretsmanager:GetSecretValue", "ssm:GetParameter", "logs:GetLogEvents"} <= set(
        no_data["Action"]
    )
    assert no_data["NotResource"] == [bucket.outputs["arn"] + "/*"]
    # Nothing that writes: every Allow is a read or a decrypt.
    allowed = [a for s in statements.values() if s["Effect"] == "Allow" for a in s["Action"]]
    assert all(a.split(":")[1].startswith(("List", "Get", "Decrypt", "Describe")) for a in allowed), allowed


def test_the_drift_role_is_for_the_main_branch_and_may_read_secret_values_to_refresh_them():
    result = bootstrap()
    role = one(result, "aws:iam/role:Role", "heal7-ci-drift")
    assert trust_condition(role) == {AUD: "sts.amazonaws.com", SUB: [f"repo:{REPOSITORY}:ref:refs/heads/main"]}
    assert attached(result, "heal7-github-drift") == ["ReadOnlyAccess"]
    policy = one(result, "aws:iam/rolePolicy:RolePolicy", "heal7-ci-drift-state")
    statements = {s["Sid"]: s for s in document(policy, "policy")["Statement"]}
    assert statements["RefreshSecretVersions"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["DecryptSecretsThroughSecretsManager"]["Condition"] == {
        "StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())


def test_exactly_five_roles_and_every_one_federated():
    roles = bootstrap().of_type("aws:iam/role:Role")
    assert sorted(r.inputs["name"] for r in roles) == sorted(
        ["heal7-github-preview", "heal7-github-drift"] + [f"heal7-github-deploy-{e}" for e in ENVIRONMENTS]
    )
    for role in roles:
        assert trust_condition(role)[AUD] == "sts.amazonaws.com"


def test_the_state_backend_is_private_versioned_tls_only_and_encrypted_with_the_secrets_key():
    result = bootstrap()
    (bucket,) = result.of_type("aws:s3/bucket:Bucket")
    (key,) = result.of_type("aws:kms/key:Key")
    (alias,) = result.of_type("aws:kms/alias:Alias")
    assert bucket.protect and key.protect
    assert bucket.inputs["forceDestroy"] is False
    assert alias.inputs["name"] == "alias/heal7-pulumi-secrets"
    assert key.inputs["enableKeyRotation"] is True
    (block,) = result.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    (versioning,) = result.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (encryption,) = result.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    (policy,) = result.of_type("aws:s3/bucketPolicy:BucketPolicy")
    (tls,) = document(policy, "policy")["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert result.outputs["backendUrl"] == f"s3://{bucket.outputs['bucket']}?region=ap-northeast-2"
    assert result.outputs["secretsProvider"] == "awskms://alias/heal7-pulumi-secrets?region=ap-northeast-2"


def test_no_bootstrap_resource_carries_an_environment_tag():
    # The deploy boundaries deny resources tagged with another environment: a tagged state
    # bucket or key would lock every other environment's deploy out of its state.
    result = bootstrap()
    (aws_provider,) = result.of_type("pulumi:providers:aws")
    # Provider inputs reach the engine JSON-encoded.
    assert json.loads(aws_provider.inputs["defaultTags"])["tags"] == {
        "project": "heal7",
        "purpose": "ci-bootstrap",
        "managed-by": "pulumi",
    }
    for resource in result.resources:
        assert "environment" not in (resource.inputs.get("tags") or {}), resource.name


def test_the_pool_provider_admits_only_this_repository_and_maps_the_environment():
    result = bootstrap()
    (pool,) = result.of_type("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
    (provider,) = result.of_type("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert pool.inputs["workloadIdentityPoolId"] == "github"
    assert provider.inputs["workloadIdentityPoolId"] == "github"
    assert provider.inputs["attributeCondition"] == f"assertion.repository == '{REPOSITORY}'"
    assert provider.inputs["attributeMapping"] == {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.environment": "assertion.environment",
        "attribute.ref": "assertion.ref",
    }
    assert provider.inputs["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert result.outputs["gcpWorkloadIdentityProvider"] == provider.outputs["name"]


def workload_identity_members(result: SynthResult) -> dict[str, list[str]]:
    """Service-account email -> the members that may impersonate it."""
    members: dict[str, list[str]] = {}
    for binding in result.of_type("gcp:serviceaccount/iAMMember:IAMMember"):
        assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
        email = str(binding.inputs["serviceAccountId"]).rsplit("/", 1)[-1]
        members.setdefault(email, []).append(binding.inputs["member"])
    return members


def test_each_service_account_is_impersonable_only_by_its_own_jobs():
    result = bootstrap()
    (pool,) = result.of_type("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
    pool_uri = f"iam.googleapis.com/{pool.outputs['name']}"
    assert pool.outputs["name"].startswith("projects/") and "/workloadIdentityPools/github" in pool.outputs["name"]
    expected = {
        f"heal7-github-deploy-{e}@heal7-ci.iam.gserviceaccount.com": [
            f"principalSet://{pool_uri}/attribute.environment/{e}"
        ]
        for e in ENVIRONMENTS
    }
    expected["heal7-github-preview@heal7-ci.iam.gserviceaccount.com"] = [
        f"principal://{pool_uri}/subject/repo:{REPOSITORY}:pull_request"
    ]
    expected["heal7-github-drift@heal7-ci.iam.gserviceaccount.com"] = [
        f"principal://{pool_uri}/subject/repo:{REPOSITORY}:ref:refs/heads/main"
    ]
    assert workload_identity_members(result) == expected


def project_roles(result: SynthResult, email: str) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    for member in result.of_type("gcp:projects/iAMMember:IAMMember"):
        if member.inputs["member"] == f"serviceAccount:{email}":
            roles.setdefault(member.inputs["project"], set()).add(member.inputs["role"])
    return roles


@pytest.mark.parametrize(("environment", "project"), list(ENVIRONMENTS.items()))
def test_each_deploy_account_administers_only_its_stacks_project(environment: str, project: str):
    roles = project_roles(bootstrap(), f"heal7-github-deploy-{environment}@heal7-ci.iam.gserviceaccount.com")
    assert list(roles) == [project]
    assert "roles/container.admin" in roles[project] and "roles/compute.securityAdmin" in roles[project]
    assert not roles[project] & {"roles/owner", "roles/editor"}
    assert len(roles[project]) == 11


def test_preview_and_drift_accounts_only_read_every_stacks_project():
    result = bootstrap()
    preview = project_roles(result, "heal7-github-preview@heal7-ci.iam.gserviceaccount.com")
    drift = project_roles(result, "heal7-github-drift@heal7-ci.iam.gserviceaccount.com")
    assert set(preview) == set(drift) == set(ENVIRONMENTS.values())
    for roles in preview.values():
        assert roles == {"roles/viewer", "roles/iam.securityReviewer"}
    for roles in drift.values():
        assert roles == {"roles/viewer", "roles/iam.securityReviewer", "roles/secretmanager.secretAccessor"}


def test_no_long_lived_key_anywhere():
    types = {r.type for r in bootstrap().resources}
    assert not types & {
        "aws:iam/accessKey:AccessKey",
        "aws:iam/user:User",
        "aws:iam/userLoginProfile:UserLoginProfile",
        "gcp:serviceaccount/key:Key",
    }


def test_an_existing_oidc_provider_is_reused_not_duplicated():
    config = stack_config()
    existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    config["bootstrap:awsOidcProviderArn"] = existing
    result = synth("bootstrap", config, project_root=BOOTSTRAP)
    assert result.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    for role in result.of_type("aws:iam/role:Role"):
        (statement,) = document(role, "assumeRolePolicy")["Statement"]
        assert statement["Principal"]["Federated"] == existing


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["bootstrap:github"].update(owner="-heal7"),
            "Pulumi.bootstrap.yaml: bootstrap:github.owner: must be a GitHub user or organization name, got '-heal7'",
        ),
        (
            lambda c: c["bootstrap:github"].update(repository="a/b"),
            "Pulumi.bootstrap.yaml: bootstrap:github.repository: must be a GitHub repository name, got 'a/b'",
        ),
        (
            lambda c: c.pop("bootstrap:github"),
            "Pulumi.bootstrap.yaml: bootstrap:github: must be a mapping with owner and repository, got None",
        ),
        (
            lambda c: c["bootstrap:environments"].update({"Prod": {"gcpProject": "heal7-production"}}),
            "Pulumi.bootstrap.yaml: bootstrap:environments.Prod: the environment name must be lowercase",
        ),
        (
            lambda c: c["bootstrap:environments"].update({"integration-test": {"gcpProject": "heal7-test"}}),
            "Pulumi.bootstrap.yaml: bootstrap:environments.integration-test: makes the service-account id",
        ),
        (
            lambda c: c["bootstrap:environments"]["dev"].update(gcpProject="Heal7_Dev"),
            "Pulumi.bootstrap.yaml: bootstrap:environments.dev.gcpProject: must be a GCP project id, got 'Heal7_Dev'",
        ),
        (
            lambda c: c.update({"bootstrap:awsOidcProviderArn": "arn:aws:iam::1:oidc-provider/example.com"}),
            "Pulumi.bootstrap.yaml: bootstrap:awsOidcProviderArn: must be the ARN of the account's",
        ),
        (lambda c: c.pop("gcp:project"), "Pulumi.bootstrap.yaml: gcp:project: must be a GCP project id, got None"),
    ],
)
def test_bad_config_is_rejected_before_any_resource(change, expected: str):
    config = stack_config()
    change(config)
    with pytest.raises(SynthError) as caught:
        synth("bootstrap", config, project_root=BOOTSTRAP)
    assert isinstance(caught.value.cause, BootstrapConfigError)
    assert str(caught.value.cause).startswith(expected)
    assert caught.value.result.resources == []
