"""cert-manager and External Secrets on both clusters: who may read which secret, which
issuer each tier uses, and charts pinned to exact versions.

Relationships are followed through the synthesized registrations: the ClusterSecretStore
names a service account, and that same account is the one the cloud identity trusts (IRSA
trust subject on EKS, Workload Identity member on GKE) and the one the chart annotates.
"""

import asyncio
import copy
import dataclasses
import json
import re
from typing import Any

import pulumi
import pytest
from cloudcoil.models.cert_manager import v1 as cert_manager_v1

from components.kubernetes import _charts
from components.kubernetes.cert_manager import ACME_SERVERS, CertManager, CertManagerArgs
from stacks.cluster_services import _once_cluster_exists
from tests.conftest import STACKS, assert_rejected_before_any_resource
from tests.custom_resource_validation import strict_model_errors
from tools.mock_gcp_resources import project_number
from tools.synth import Registration, SynthResult, read_stack_config, synth_component

CHART = "kubernetes:helm.sh/v4:Chart"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
PREFIXES = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-prod"}
GCP_PROJECTS = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-production"}
# The platform's store; the workloads' (`-external-secrets-workload-secrets-store`) is
# followed in tests/test_data_path.py.
PLATFORM_STORE = "-external-secrets-store"
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


def _one(result: SynthResult, type_token: str, cluster: str, suffix: str = "") -> Registration:
    found = [r for r in result.of_type(type_token) if r.name.startswith(cluster) and r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _chart(result: SynthResult, cluster: str, chart: str) -> Registration:
    return _one(result, CHART, cluster, f"-{chart}-chart")


def _by_urn(result: SynthResult, urn: str) -> Registration:
    return next(r for r in result.resources if r.urn == urn)


def _children(result: SynthResult, parent: Registration, type_token: str) -> list[Registration]:
    return [r for r in result.resources if r.parent == parent.urn and r.type == type_token]


@pytest.mark.parametrize("stack", STACKS)
def test_the_eks_store_reads_as_the_service_account_the_irsa_role_trusts(synthed, stack):
    result = synthed(stack)
    cluster = f"{PREFIXES[stack]}-eks"
    reference = _one(result, STORE, cluster, PLATFORM_STORE).inputs["spec"]["provider"]["aws"]["auth"]["jwt"][
        "serviceAccountRef"
    ]
    irsa = _one(result, "platform:aws:IrsaRole", PREFIXES[stack], "-external-secrets")
    (role,) = _children(result, irsa, "aws:iam/role:Role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    subjects = [value for key, value in statement["Condition"]["StringEquals"].items() if key.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:{reference['namespace']}:{reference['name']}"]
    # The chart creates exactly that account and annotates it with exactly that role.
    values = _chart(result, cluster, "external-secrets").inputs["values"]
    assert values["serviceAccount"]["name"] == reference["name"]
    assert _chart(result, cluster, "external-secrets").inputs["namespace"] == reference["namespace"]
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    # The operator waits for the role with its policy, not just for the role's name.
    # (The engine receives a component dependency as its resources: the role and its policy.)
    waits_for = set(_one(result, "platform:kubernetes:ExternalSecrets", cluster).dependencies)
    assert {r.urn for r in result.resources if r.parent == irsa.urn} <= waits_for


@pytest.mark.parametrize("stack", STACKS)
def test_the_gke_store_reads_as_the_service_account_workload_identity_admits(synthed, stack):
    result = synthed(stack)
    cluster, project = f"{PREFIXES[stack]}-gke", GCP_PROJECTS[stack]
    provider = _one(result, STORE, cluster, PLATFORM_STORE).inputs["spec"]["provider"]["gcpsm"]
    reference = provider["auth"]["workloadIdentity"]["serviceAccountRef"]
    assert provider["projectID"] == project
    assert provider["auth"]["workloadIdentity"]["clusterName"] == cluster
    identity = _one(result, "platform:gcp:WorkloadIdentityAccount", PREFIXES[stack], "-external-secrets")
    (account,) = _children(result, identity, "gcp:serviceaccount/account:Account")
    (binding,) = _children(result, identity, "gcp:serviceaccount/iAMMember:IAMMember")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["serviceAccountId"] == account.outputs["name"]
    assert (
        binding.inputs["member"]
        == f"serviceAccount:{project}.svc.id.goog[{reference['namespace']}/{reference['name']}]"
    )
    # The chart's account is that one, annotated with that Google service account.
    chart = _chart(result, cluster, "external-secrets")
    assert chart.inputs["namespace"] == reference["namespace"]
    assert chart.inputs["values"]["serviceAccount"]["name"] == reference["name"]
    assert chart.inputs["values"]["serviceAccount"]["annotations"] == {
        "iam.gke.io/gcp-service-account": account.outputs["email"]
    }
    waits_for = set(_one(result, "platform:kubernetes:ExternalSecrets", cluster).dependencies)
    assert {account.urn, binding.urn} | {r.urn for r in result.resources if r.parent == identity.urn} <= waits_for


@pytest.mark.parametrize("stack", STACKS)
def test_the_gke_identity_reads_only_secrets_under_the_prefix(synthed, stack):
    result = synthed(stack)
    identity = _one(result, "platform:gcp:WorkloadIdentityAccount", PREFIXES[stack], "-external-secrets")
    (grant,) = _children(result, identity, "gcp:projects/iAMMember:IAMMember")
    project = GCP_PROJECTS[stack]
    assert grant.inputs["role"] == "roles/secretmanager.secretAccessor"
    secrets = f"projects/{project_number(project)}/secrets"
    # Everything under the platform's prefix but the workloads' secrets (their own store reads those).
    assert grant.inputs["condition"]["expression"] == (
        f'resource.name.startsWith("{secrets}/{PREFIXES[stack]}-") && '
        f'!resource.name.startsWith("{secrets}/{PREFIXES[stack]}-workloads-")'
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_irsa_policy_names_only_the_platforms_secrets_and_their_key(synthed, stack):
    result = synthed(stack)
    prefix = PREFIXES[stack]
    irsa = _one(result, "platform:aws:IrsaRole", prefix, "-external-secrets")
    (policy,) = _children(result, irsa, "aws:iam/rolePolicy:RolePolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert set(statements) == {"ReadPlatformSecrets", "DecryptPlatformSecrets"}
    read, decrypt = statements["ReadPlatformSecrets"], statements["DecryptPlatformSecrets"]
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert decrypt["Action"] == "kms:Decrypt"
    redis_secret = _one(result, "aws:secretsmanager/secret:Secret", f"{prefix}-redis", "-auth-token")
    redis = _by_urn(result, redis_secret.parent or "")
    (redis_key,) = _children(result, redis, "aws:kms/key:Key")
    assert read["Resource"][1:] == [redis_secret.outputs["arn"]]
    assert re.fullmatch(rf"arn:aws:secretsmanager:ap-northeast-2:\d{{12}}:secret:{prefix}/\*", read["Resource"][0])
    # ...and the keys of the monitoring and backup roles' passwords (their secrets are under the prefix).
    database_keys = []
    for credentials in ("monitoring-credentials", "backup-credentials"):
        component = _by_urn(
            result, _one(result, "aws:secretsmanager/secret:Secret", f"{prefix}-{credentials}", "-secret").parent or ""
        )
        (key,) = _children(result, component, "aws:kms/key:Key")
        database_keys.append(key.outputs["arn"])
    assert decrypt["Resource"] == [redis_key.outputs["arn"], *database_keys]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-2.amazonaws.com"}}
    for statement in statements.values():
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources and all(resource.count("*") <= 1 for resource in resources)
        assert "*" not in json.dumps(statement["Action"])


def _strict_cluster_issuer(manifest: dict[str, Any]) -> cert_manager_v1.ClusterIssuer:
    """Validate with cloudcoil's model and refuse any field the model does not know
    (`strict_model_errors`: the models ignore unknown fields, so a field they dropped shows
    up as a difference between the manifest and the model's own dump of it)."""
    errors = strict_model_errors(cert_manager_v1.ClusterIssuer, manifest)
    if errors:
        raise ValueError(f"outside cert-manager's ClusterIssuer schema: {errors}")
    return cert_manager_v1.ClusterIssuer.model_validate(manifest)


def _issuer_manifest(registration: Registration) -> dict[str, Any]:
    # A copy: the synth results are cached across tests.
    return copy.deepcopy(
        {
            "apiVersion": registration.inputs["apiVersion"],
            "kind": registration.inputs["kind"],
            "metadata": registration.inputs["metadata"],
            "spec": registration.inputs["spec"],
        }
    )


def test_the_strict_issuer_check_refuses_an_unknown_field(synthed):
    manifest = _issuer_manifest(_one(synthed("prod"), ISSUER, "heal7-prod-eks", "-production"))
    manifest["spec"]["acme"]["solvers"][0]["dns01"]["cloudflare"]["apiToken"] = "typo of apiTokenSecretRef"
    with pytest.raises(
        ValueError, match=r"schema: \['spec\.acme\.solvers\[0\]\.dns01\.cloudflare\.apiToken: unknown field'\]"
    ):
        _strict_cluster_issuer(manifest)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("cluster", ["eks", "gke"])
def test_cluster_issuers_validate_and_read_the_token_external_secrets_writes(synthed, stack, cluster):
    result = synthed(stack)
    cluster_name = f"{PREFIXES[stack]}-{cluster}"
    zone = read_stack_config(stack)["platform:cloudflare"]["zone"]
    token = _one(result, EXTERNAL_SECRET, cluster_name, "-cloudflare-token")
    store = _one(result, STORE, cluster_name, PLATFORM_STORE)
    spec = token.inputs["spec"]
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": store.inputs["metadata"]["name"]}
    assert token.inputs["metadata"]["namespace"] == "cert-manager"
    (item,) = spec["data"]
    # The remote name sits under the prefix the cloud identity may read.
    separator = "/" if cluster == "eks" else "-"
    assert item["remoteRef"] == {"key": f"{PREFIXES[stack]}{separator}cloudflare-dns-token"}
    issuers = [r for r in result.of_type(ISSUER) if r.name.startswith(cluster_name)]
    assert sorted(r.inputs["metadata"]["name"] for r in issuers) == ["letsencrypt-production", "letsencrypt-staging"]
    for registration in issuers:
        issuer = _strict_cluster_issuer(_issuer_manifest(registration))
        assert issuer.spec is not None and issuer.spec.acme is not None
        environment = registration.inputs["metadata"]["name"].removeprefix("letsencrypt-")
        assert issuer.spec.acme.server == ACME_SERVERS[environment]
        (solver,) = issuer.spec.acme.solvers or []
        assert solver.selector is not None and solver.selector.dns_zones == [zone]
        assert solver.dns01 is not None and solver.dns01.cloudflare is not None
        reference = solver.dns01.cloudflare.api_token_secret_ref
        assert reference is not None
        assert (reference.name, reference.key) == (spec["target"]["name"], item["secretKey"])
        # The issuer waits for the chart (its CRD and webhook) and for the token.
        chart = _chart(result, cluster_name, "cert-manager")
        assert {chart.urn, token.urn} <= set(registration.dependencies)


@pytest.mark.parametrize(("stack", "issuer"), [("dev", "staging"), ("staging", "production"), ("prod", "production")])
def test_each_tier_defaults_to_its_issuer(synthed, stack, issuer):
    result = synthed(stack)
    for cluster in ("eks", "gke"):
        shim = _chart(result, f"{PREFIXES[stack]}-{cluster}", "cert-manager").inputs["values"]["ingressShim"]
        assert shim == {
            "defaultIssuerName": f"letsencrypt-{issuer}",
            "defaultIssuerKind": "ClusterIssuer",
            "defaultIssuerGroup": "cert-manager.io",
        }
    staging = _one(result, ISSUER, f"{PREFIXES[stack]}-eks", "-staging").inputs["spec"]["acme"]["server"]
    assert staging == "https://acme-staging-v02.api.letsencrypt.org/directory"


@pytest.mark.parametrize(("stack", "replicas"), [("dev", 1), ("staging", 2), ("prod", 2)])
def test_add_ons_run_highly_available_outside_dev(synthed, stack, replicas):
    result = synthed(stack)
    disruption_budget = {"enabled": replicas > 1}
    for cluster in ("eks", "gke"):
        cert_manager = _chart(result, f"{PREFIXES[stack]}-{cluster}", "cert-manager").inputs["values"]
        for part in (cert_manager, cert_manager["webhook"], cert_manager["cainjector"]):
            assert (part["replicaCount"], part["podDisruptionBudget"]) == (replicas, disruption_budget)
        # Helm hooks never run under helm.v4.Chart; the CRDs must be chart objects.
        assert cert_manager["startupapicheck"] == {"enabled": False}
        assert cert_manager["crds"] == {"enabled": True, "keep": True}
        eso = _chart(result, f"{PREFIXES[stack]}-{cluster}", "external-secrets").inputs["values"]
        for part in (eso, eso["webhook"]):
            assert (part["replicaCount"], part["podDisruptionBudget"]) == (replicas, disruption_budget)
        assert eso["leaderElect"] is True and eso["installCRDs"] is True


def test_every_chart_is_pinned_to_an_exact_version():
    coordinates = [value for value in vars(_charts).values() if isinstance(value, _charts.ChartCoordinates)]
    assert {c.chart for c in coordinates} >= {"cert-manager", "external-secrets"}
    for chart in coordinates:
        assert EXACT_VERSION.match(chart.version), chart
        assert chart.repository.startswith("https://"), chart
    assert dataclasses.is_dataclass(_charts.ChartCoordinates)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _charts.CERT_MANAGER.version = "latest"  # type: ignore[misc]


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_chart_uses_the_pinned_coordinates(synthed, stack):
    pinned = {
        (value.repository, value.chart, value.version)
        for value in vars(_charts).values()
        if isinstance(value, _charts.ChartCoordinates)
    }
    charts = synthed(stack).of_type(CHART)
    assert len(charts) >= 4  # cert-manager and External Secrets on both clusters
    for chart in charts:
        inputs = chart.inputs
        assert (inputs["repositoryOpts"]["repo"], inputs["chart"], inputs["version"]) in pinned, chart.name
        assert EXACT_VERSION.match(inputs["version"])
        # Helm refuses release names over 53 characters.
        assert len(inputs["name"]) <= 53, inputs["name"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda k: k.__setitem__("certManager", {"issuer": "latest"}), "platform:kubernetes.certManager.issuer:"),
        (
            lambda k: k.__setitem__("certManager", {"issuer": "staging", "acmeEmail": "not-an-address"}),
            "platform:kubernetes.certManager.acmeEmail:",
        ),
        (lambda k: k.__setitem__("highAvailability", "sometimes"), "platform:kubernetes.highAvailability:"),
    ],
    ids=["unknown issuer", "ACME contact not an address", "high availability not a switch"],
)
def test_bad_cert_manager_config_is_refused_before_any_resource(stack_config, mutate, expected):
    config = stack_config("prod")
    mutate(config["platform:kubernetes"])
    assert_rejected_before_any_resource("prod", config, expected)


def _unknown() -> pulumi.Output[str]:
    """An output whose value is unknown, like a kubeconfig before its cluster exists."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def test_charts_wait_for_a_known_kubeconfig():
    """pulumi-kubernetes issue 3027: nothing chart-bearing is registered on an unknown kubeconfig."""

    def build(providers):
        def cert_manager(name: str) -> None:
            CertManager(
                name,
                CertManagerArgs(zone="heal7.com", secret_store_name="platform-secrets", token_remote_key="x/y"),
                opts=pulumi.ResourceOptions(provider=providers.kubernetes),
            )

        _once_cluster_exists(_unknown(), lambda: cert_manager("before-the-cluster"))
        _once_cluster_exists(pulumi.Output.from_input("apiVersion: v1"), lambda: cert_manager("after-the-cluster"))

    result = synth_component(build)
    components = [r.name for r in result.of_type("platform:kubernetes:CertManager")]
    assert components == ["after-the-cluster"]
    assert [r.name for r in result.of_type(CHART)] == ["after-the-cluster-chart"]
