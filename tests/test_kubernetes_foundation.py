"""The Kubernetes layer's foundation on both clusters: providers, workload namespaces and
their network policies, asserted as relationships (the policies' ranges are the data
stores' real subnets; every object goes through its own cluster's explicit provider)."""

import json

import pytest

from tests.conftest import STACKS, assert_rejected_before_any_resource
from tools.synth import Secret, synth, synth_component

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PROVIDER = "pulumi:providers:kubernetes"
WORKLOAD_NAMESPACES = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-production"}
PLATFORM_POLICIES = {
    "default-deny",
    "allow-dns",
    "allow-same-namespace",
    "allow-ingress-from-platform",
    "allow-egress-mesh",
}


def _plain(value):
    return value.value if isinstance(value, Secret) else value


def _providers(result):
    return {p.name: p for p in result.of_type(PROVIDER)}


def _policies(result, provider_name: str, namespace: str | None = None) -> dict[str, dict]:
    """The cluster's NetworkPolicies by name, in `namespace` (default: the workload namespaces,
    not the logging namespace's own, tests/test_logging_stack.py, nor the backups namespace's,
    tests/test_database_backups.py)."""
    provider = _providers(result)[provider_name]
    return {
        p.inputs["metadata"]["name"]: p.inputs
        for p in result.of_type(NETWORK_POLICY)
        if p.provider == provider.urn
        and (
            p.inputs["metadata"]["namespace"] == namespace
            if namespace
            else p.inputs["metadata"]["namespace"] not in ("logging", "backups")
        )
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_cluster_has_one_explicit_provider_built_from_its_own_kubeconfig(synthed, stack):
    result = synthed(stack)
    providers = _providers(result)
    assert set(providers) == {f"heal7-{stack}-eks-k8s", f"heal7-{stack}-gke-k8s"}
    eks = json.loads(providers[f"heal7-{stack}-eks-k8s"].inputs["kubeconfig"])
    # The EKS kubeconfig authenticates with `aws eks get-token` for this cluster: no static credentials.
    (user,) = eks["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:3] == ["eks", "get-token", "--cluster-name"]
    assert eks["clusters"][0]["cluster"]["server"] == result.one("aws:eks/cluster:Cluster").outputs["endpoint"]
    gke = _plain(providers[f"heal7-{stack}-gke-k8s"].inputs["kubeconfig"])
    assert "gke-gcloud-auth-plugin" in gke
    # Only a new cluster replaces a provider (and every object on it).
    assert {p.inputs["clusterIdentifier"] for p in providers.values()} == {f"heal7-{stack}-eks", f"heal7-{stack}-gke"}
    # No render directory unless the stack asks for GitOps mode.
    assert all("renderYamlToDirectory" not in p.inputs for p in providers.values())
    # Every Kubernetes object goes through one of the two explicit providers.
    kubernetes_objects = [r for r in result.resources if r.type.startswith("kubernetes:")]
    assert kubernetes_objects and {r.provider for r in kubernetes_objects} == {p.urn for p in providers.values()}


@pytest.mark.parametrize("stack", STACKS)
def test_workload_namespaces_enforce_restricted_on_both_clusters(synthed, stack):
    result = synthed(stack)
    namespaces = [
        n for n in result.of_type(NAMESPACE) if "platform.heal7.io/workload" in n.inputs["metadata"]["labels"]
    ]
    assert len(namespaces) == 2  # the stack file's one workload namespace, on each cluster
    # Every namespace enforces restricted, the charts' own (cert-manager, External Secrets, VPA,
    # istiod, the ingress gateway, monitoring, logging) too; only the node agents' are privileged:
    # the Istio CNI agent, node-exporter and Fluent Bit (host paths, host network).
    levels = {
        n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for n in result.of_type(NAMESPACE)
    }
    privileged = {"istio-cni", "node-exporter", "fluent-bit"}
    assert {name for name, level in levels.items() if level != "restricted"} == privileged
    assert {levels[name] for name in privileged} == {"privileged"}
    for namespace in namespaces:
        metadata = namespace.inputs["metadata"]
        assert metadata["name"] == WORKLOAD_NAMESPACES[stack]
        assert {
            mode: metadata["labels"][f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "warn", "audit")
        } == {
            "enforce": "restricted",
            "warn": "restricted",
            "audit": "restricted",
        }
        assert metadata["labels"]["platform.heal7.io/workload"] == "true"
        # istiod injects the mesh's proxy into every pod of the namespace.
        assert metadata["labels"]["istio-injection"] == "enabled"


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_namespace_denies_all_then_allows_only_the_platform(synthed, stack):
    result = synthed(stack)
    namespace = WORKLOAD_NAMESPACES[stack]
    # GKE: the replica (postgres), and RDS and Redis across the VPN (tests/test_data_path.py).
    for cluster, data_stores in (("eks", {"postgres", "redis"}), ("gke", {"postgres", "postgres-primary", "redis"})):
        policies = _policies(result, f"heal7-{stack}-{cluster}-k8s")
        assert set(policies) == PLATFORM_POLICIES | {f"allow-egress-{store}" for store in data_stores}
        assert all(p["metadata"]["namespace"] == namespace for p in policies.values())
        deny = policies["default-deny"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        (ingress,) = policies["allow-ingress-from-platform"]["spec"]["ingress"]
        sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in ingress["from"]}
        # The HEAL7 design admits istio-system and monitoring; the gateway runs in istio-ingress.
        assert sources == {"istio-ingress", "istio-system", "monitoring"}
        # Only the namespace's own pods, both ways: a podSelector with no namespaceSelector.
        same = policies["allow-same-namespace"]["spec"]
        assert same["ingress"] == [{"from": [{"podSelector": {}}]}] and same["egress"] == [
            {"to": [{"podSelector": {}}]}
        ]
        (dns,) = policies["allow-dns"]["spec"]["egress"]
        assert dns["to"] == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]
        assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]


def _egress(policy: dict) -> tuple[set[str], set[int]]:
    (rule,) = policy["spec"]["egress"]
    return {peer["ipBlock"]["cidr"] for peer in rule["to"]}, {int(port["port"]) for port in rule["ports"]}


@pytest.mark.parametrize("stack", STACKS)
def test_eks_data_store_egress_is_exactly_the_subnets_rds_and_redis_live_in(synthed, stack):
    result = synthed(stack)
    subnets = {s.id: s.inputs["cidrBlock"] for s in result.of_type("aws:ec2/subnet:Subnet")}
    rds_subnets = {subnets[i] for i in result.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]}
    redis_subnets = {subnets[i] for i in result.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]}
    policies = _policies(result, f"heal7-{stack}-eks-k8s")
    assert _egress(policies["allow-egress-postgres"]) == (rds_subnets, {5432})
    assert _egress(policies["allow-egress-redis"]) == (redis_subnets, {6379})


@pytest.mark.parametrize("stack", STACKS)
def test_gke_postgres_egress_is_the_private_services_range_of_the_replica(synthed, stack):
    result = synthed(stack)
    (reserved,) = result.of_type("gcp:compute/globalAddress:GlobalAddress")
    replica_range = f"{reserved.inputs['address']}/{int(reserved.inputs['prefixLength'])}"
    # The replica takes its private IP from exactly this range.
    replica = result.one("gcp:sql/databaseInstance:DatabaseInstance")
    assert replica.inputs["settings"]["ipConfiguration"]["allocatedIpRange"] == reserved.outputs["name"]
    assert _egress(_policies(result, f"heal7-{stack}-gke-k8s")["allow-egress-postgres"]) == ({replica_range}, {5432})


def test_gitops_mode_renders_each_cluster_into_its_own_directory(stack_config):
    config = stack_config("dev")
    config["platform:kubernetes"]["renderTo"] = "gitops/manifests"
    providers = _providers(synth("dev", config))
    assert {p.inputs["renderYamlToDirectory"] for p in providers.values()} == {
        "gitops/manifests/heal7-dev-eks",
        "gitops/manifests/heal7-dev-gke",
    }


def test_a_namespace_below_restricted_records_why():
    from components.kubernetes.workload_namespace import WorkloadNamespace, WorkloadNamespaceArgs

    result = synth_component(
        lambda providers: {
            "ns": WorkloadNamespace(
                "legacy",
                WorkloadNamespaceArgs(
                    namespace="legacy", pod_security="baseline", pod_security_reason="a vendor agent needs hostPath"
                ),
                providers.opts,
            ).namespace
        }
    )
    metadata = result.one(NAMESPACE).inputs["metadata"]
    assert metadata["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert metadata["annotations"] == {"platform.heal7.io/pod-security-reason": "a vendor agent needs hostPath"}
    assert result.outputs == {"ns": "legacy"}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda k: k.update(namespaces={"Heal7_Prod": {}}),
            "platform:kubernetes.namespaces.Heal7_Prod",
        ),
        (
            lambda k: k.update(namespaces={"heal7-production": {"podSecurity": "strict"}}),
            "platform:kubernetes.namespaces.heal7-production.podSecurity: Input should be 'restricted'",
        ),
        (
            lambda k: k.update(namespaces={"heal7-production": {"podSecurity": "baseline"}}),
            "platform:kubernetes.namespaces.heal7-production.podSecurityReason: expected the reason",
        ),
        (
            lambda k: k.update(namespaces={"kube-system": {}}),
            "platform:kubernetes.namespaces.kube-system: expected a workload namespace",
        ),
        (
            lambda k: k["viewers"][0].update(namespaces=[]),
            "platform:kubernetes.viewers[0].namespaces: List should have at least 1 item",
        ),
        (
            lambda k: k["viewers"][0].update(namespaces=["payments"]),
            "platform:kubernetes.viewers[0].namespaces[0]: expected one of the namespaces (heal7-production)",
        ),
        (
            lambda k: k["deployers"][0].update(namespace="payments"),
            "platform:kubernetes.deployers[0].namespace: expected one of the namespaces",
        ),
        (
            lambda k: k.pop("gkeSecurityGroup"),
            "platform:kubernetes.gkeSecurityGroup: expected the gke-security-groups@<domain> group",
        ),
        (
            lambda k: k.update(renderTo="../../etc; rm -rf /"),
            "platform:kubernetes.renderTo",
        ),
    ],
    ids=[
        "namespace not a DNS label",
        "unknown Pod Security level",
        "baseline without a reason",
        "reserved namespace",
        "viewer group without a namespace",
        "viewer of an undeclared namespace",
        "deployer of an undeclared namespace",
        "viewers without the GKE security group",
        "render directory with a shell command",
    ],
)
def test_bad_kubernetes_config_is_refused_before_any_resource(stack_config, mutate, expected):
    config = stack_config("prod")
    mutate(config["platform:kubernetes"])
    assert_rejected_before_any_resource("prod", config, expected)
