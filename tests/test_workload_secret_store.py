"""The workloads' secret store on both clusters, followed through the synthesized stacks:
it serves only the workload namespaces, it reads as an identity of its own (the store's
service account -> its annotation -> the IRSA role or Google service account that trusts
exactly that account), and that identity reaches every workload secret and not the
platform's Cloudflare token. Every key an ExternalSecret names through it is held by a
secret resource of the stack.
"""

import fnmatch
import json
import re

import pytest

from components.kubernetes.external_secrets import (
    AwsSecretStore,
    ExternalSecrets,
    ExternalSecretsArgs,
    ScopedStore,
)
from components.multicloud.workload_secrets import (
    PostgresConnection,
    WorkloadSecrets,
    WorkloadSecretsArgs,
    postgres_url,
)
from tests.conftest import STACKS
from tests.network_paths import on_cluster
from tools.synth import Registration, SynthError, SynthResult, synth_component

STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
CEL_TERM = re.compile(r'^(!?)resource\.name\.startsWith\("([^"]+)"\)$')


def _store(result: SynthResult, cluster: str, name: str) -> Registration:
    (store,) = [s for s in on_cluster(result, cluster, STORE) if s.inputs["metadata"]["name"] == name]
    return store


def _store_account(result: SynthResult, cluster: str, reference: dict) -> Registration:
    (account,) = [
        a
        for a in on_cluster(result, cluster, SERVICE_ACCOUNT)
        if (a.inputs["metadata"]["name"], a.inputs["metadata"]["namespace"])
        == (reference["name"], reference["namespace"])
    ]
    return account


def _cel_allows(expression: str, resource_name: str) -> bool:
    """Evaluate a conjunction of (negated) `resource.name.startsWith("...")` terms."""
    verdicts = []
    for term in expression.split(" && "):
        match = CEL_TERM.match(term)
        assert match, f"unexpected condition term {term!r}"
        verdicts.append(resource_name.startswith(match.group(2)) != bool(match.group(1)))
    return all(verdicts)


def _cloudflare_key(result: SynthResult, cluster: str) -> str:
    (token,) = [e for e in on_cluster(result, cluster, EXTERNAL_SECRET) if e.name.endswith("-cloudflare-token")]
    assert token.inputs["spec"]["secretStoreRef"]["name"] == "platform-secrets"
    (item,) = token.inputs["spec"]["data"]
    return item["remoteRef"]["key"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("cluster", ["eks", "gke"])
def test_the_workload_store_serves_only_the_workload_namespaces(synthed, stack, cluster):
    result = synthed(stack)
    name = f"heal7-{stack}-{cluster}"
    workload_namespaces = {
        n.inputs["metadata"]["name"]
        for n in on_cluster(result, name, NAMESPACE)
        if n.inputs["metadata"]["labels"].get("platform.heal7.io/workload") == "true"
    }
    (condition,) = _store(result, name, "workload-secrets").inputs["spec"]["conditions"]
    assert set(condition) == {"namespaces"} and set(condition["namespaces"]) == workload_namespaces
    (platform,) = _store(result, name, "platform-secrets").inputs["spec"]["conditions"]
    # The platform's store: cert-manager's token, monitoring's Grafana admin and receivers, and on EKS
    # the backup job's database password (never a workload's).
    backups = ["backups"] if cluster == "eks" else []
    assert platform == {"namespaces": ["cert-manager", "monitoring", *backups]}
    # Every ExternalSecret that names the workloads' store sits in one of those namespaces,
    # and names a key some secret resource of the stack holds.
    held = {s.inputs.get("name") for s in result.of_type("aws:secretsmanager/secret:Secret")} | {
        s.inputs["secretId"] for s in result.of_type("gcp:secretmanager/secret:Secret")
    }
    using = [
        e
        for e in on_cluster(result, name, EXTERNAL_SECRET)
        # Generator-fed ExternalSecrets (the logging users) name no store.
        if e.inputs["spec"].get("secretStoreRef", {}).get("name") == "workload-secrets"
    ]
    assert using
    for external in using:
        assert external.inputs["metadata"]["namespace"] in workload_namespaces
        assert {item["remoteRef"]["key"] for item in external.inputs["spec"]["data"]} <= held


@pytest.mark.parametrize("stack", STACKS)
def test_the_eks_workload_identity_reads_the_workload_secrets_and_not_the_token(synthed, stack):
    result = synthed(stack)
    cluster = f"heal7-{stack}-eks"
    reference = _store(result, cluster, "workload-secrets").inputs["spec"]["provider"]["aws"]["auth"]["jwt"][
        "serviceAccountRef"
    ]
    # Not the operator's own account: a different identity from the platform store's.
    platform = _store(result, cluster, "platform-secrets").inputs["spec"]["provider"]["aws"]["auth"]["jwt"]
    assert reference != platform["serviceAccountRef"]
    account = _store_account(result, cluster, reference)
    assert account.inputs["automountServiceAccountToken"] is False
    role_arn = account.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    (role,) = [r for r in result.of_type("aws:iam/role:Role") if r.outputs["arn"] == role_arn]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    subjects = [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:{reference['namespace']}:{reference['name']}"]
    (policy,) = [p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    read, decrypt = statements["ReadWorkloadSecrets"], statements["DecryptWorkloadSecrets"]
    assert set(statements) == {"ReadWorkloadSecrets", "DecryptWorkloadSecrets"}
    workload_secrets = [
        s
        for s in result.of_type("aws:secretsmanager/secret:Secret")
        if s.inputs.get("name", "").startswith(f"heal7-{stack}/workloads/")
    ]
    assert workload_secrets
    for secret in workload_secrets:
        assert any(fnmatch.fnmatchcase(secret.outputs["arn"], pattern) for pattern in read["Resource"])
        # Decrypt exactly the key they are encrypted with, only through Secrets Manager.
        assert decrypt["Resource"] == [secret.inputs["kmsKeyId"]]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-2.amazonaws.com"}}
    # The Cloudflare token's ARN (its name, then Secrets Manager's random suffix) is out of reach.
    token_arn = re.sub(
        r":secret:.*$", f":secret:{_cloudflare_key(result, cluster)}-AbCdEf", workload_secrets[0].outputs["arn"]
    )
    assert not any(fnmatch.fnmatchcase(token_arn, pattern) for pattern in read["Resource"])
    # The platform's identity cannot decrypt the workloads' secrets: it holds no grant on their key.
    platform_role = [
        p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if "DecryptPlatformSecrets" in p.inputs["policy"]
    ]
    assert platform_role and all(
        workload_secrets[0].inputs["kmsKeyId"] not in p.inputs["policy"] for p in platform_role
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_gke_workload_identity_reads_the_workload_secrets_and_not_the_token(synthed, stack):
    result = synthed(stack)
    cluster = f"heal7-{stack}-gke"
    workload = _store(result, cluster, "workload-secrets").inputs["spec"]["provider"]["gcpsm"]["auth"]
    platform = _store(result, cluster, "platform-secrets").inputs["spec"]["provider"]["gcpsm"]["auth"]
    reference = workload["workloadIdentity"]["serviceAccountRef"]
    assert reference != platform["workloadIdentity"]["serviceAccountRef"]
    email = _store_account(result, cluster, reference).inputs["metadata"]["annotations"][
        "iam.gke.io/gcp-service-account"
    ]
    (account,) = [a for a in result.of_type("gcp:serviceaccount/account:Account") if a.outputs["email"] == email]
    (binding,) = [
        b
        for b in result.of_type("gcp:serviceaccount/iAMMember:IAMMember")
        if b.inputs["serviceAccountId"] == account.outputs["name"]
    ]
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"].endswith(f".svc.id.goog[{reference['namespace']}/{reference['name']}]")
    (grant,) = [
        g for g in result.of_type("gcp:projects/iAMMember:IAMMember") if g.inputs["member"] == f"serviceAccount:{email}"
    ]
    assert grant.inputs["role"] == "roles/secretmanager.secretAccessor"
    expression = grant.inputs["condition"]["expression"]
    workload_secrets = [
        s
        for s in result.of_type("gcp:secretmanager/secret:Secret")
        if s.inputs["secretId"].startswith(f"heal7-{stack}-workloads-")
    ]
    assert workload_secrets and all(_cel_allows(expression, s.outputs["name"]) for s in workload_secrets)
    secrets = workload_secrets[0].outputs["name"].rsplit("/", 1)[0]
    assert not _cel_allows(expression, f"{secrets}/{_cloudflare_key(result, cluster)}")
    # And the platform's identity reaches the token but none of the workloads' secrets.
    # (The platform store reads as the operator's own account, which the chart creates.)
    assert platform["workloadIdentity"]["serviceAccountRef"]["name"] == "external-secrets"
    (platform_grant,) = [
        g
        for g in result.of_type("gcp:projects/iAMMember:IAMMember")
        if g.name == f"heal7-{stack}-gke-external-secrets-secret-accessor"
    ]
    platform_expression = platform_grant.inputs["condition"]["expression"]
    assert _cel_allows(platform_expression, f"{secrets}/{_cloudflare_key(result, cluster)}")
    assert not any(_cel_allows(platform_expression, s.outputs["name"]) for s in workload_secrets)


def test_urls_percent_encode_their_credentials():
    url = postgres_url(
        "app", "p@ss/w:rd?#", "db.example", 5432, "heal7", "verify-full", "/etc/platform/ca/rds-root.pem"
    )
    assert url == (
        "postgresql://app:p%40ss%2Fw%3Ard%3F%23@db.example:5432/heal7?sslmode=verify-full"
        "&sslrootcert=/etc/platform/ca/rds-root.pem"
    )


@pytest.mark.parametrize(
    ("user", "expected"),
    [("pg_app", "database_user must be a lowercase PostgreSQL identifier"), ("App", "database_user must be")],
)
def test_bad_workload_secrets_are_refused_before_any_resource(user, expected):
    def build(providers):
        connection = PostgresConnection(
            host="db.example", port=5432, database="heal7", sslmode="verify-full", root_cert="/etc/platform/ca/rds.pem"
        )
        WorkloadSecrets(
            "bad",
            WorkloadSecretsArgs(
                aws_name_prefix="x/workloads/",
                gcp_id_prefix="x-workloads-",
                database_user=user,
                aws={"database-url": connection},
            ),
            opts=providers.opts,
        )

    with pytest.raises(SynthError) as caught:
        synth_component(build)
    assert f"WorkloadSecrets bad: {expected}" in str(caught.value)
    assert [r.type for r in caught.value.result.resources if not r.type.startswith("pulumi:providers:")] == []


def test_a_scoped_store_needs_a_name_and_an_account_of_its_own():
    def build(providers):
        cloud = AwsSecretStore(region="ap-northeast-2", role_arn="arn:aws:iam::123456789012:role/x")
        ExternalSecrets(
            "bad",
            ExternalSecretsArgs(
                cloud=cloud,
                scoped_stores=[ScopedStore("platform-secrets", "external-secrets", cloud, ("ns",))],
            ),
            opts=providers.opts,
        )

    with pytest.raises(SynthError) as caught:
        synth_component(build)
    message = str(caught.value)
    assert "store names must be unique" in message and "each store needs a service account of its own" in message
    assert [r.type for r in caught.value.result.resources if not r.type.startswith("pulumi:providers:")] == []
