"""GcpNetwork and ArtifactRegistry under mocks: ranges, NAT, private services, firewall."""

import json

import pytest

from components.gcp.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from tests.conftest import STACKS

FIREWALL = "gcp:compute/firewall:Firewall"
# (subnet, pods, services, private service access) per stack file.
RANGES = {
    "dev": ("10.110.0.0/20", "10.112.0.0/14", "10.116.0.0/20", "10.118.0.0/20"),
    "staging": ("10.120.0.0/20", "10.124.0.0/14", "10.128.0.0/20", "10.122.0.0/20"),
    "prod": ("10.130.0.0/20", "10.132.0.0/14", "10.136.0.0/20", "10.138.0.0/20"),
}


@pytest.mark.parametrize("stack", STACKS)
def test_gcp_provider_labels_everything_like_the_aws_tags(synthed, stack):
    provider = synthed(stack).one("pulumi:providers:gcp")
    assert json.loads(provider.inputs["defaultLabels"]) == {
        "project": "heal7",
        "environment": stack,
        "owner": "platform-team",
        "cost-center": "heal7-platform",
        "managed-by": "pulumi",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_vpc_is_custom_mode_with_the_configured_ranges(synthed, stack):
    result = synthed(stack)
    subnet_cidr, pods_cidr, services_cidr, _ = RANGES[stack]
    network = result.one("gcp:compute/network:Network")
    assert network.inputs["autoCreateSubnetworks"] is False
    subnet = result.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["network"] == network.id
    assert (subnet.inputs["region"], subnet.inputs["ipCidrRange"]) == ("asia-northeast3", subnet_cidr)
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet.inputs["secondaryIpRanges"]} == {
        f"heal7-{stack}-gcp-pods": pods_cidr,
        f"heal7-{stack}-gcp-services": services_cidr,
    }
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_SEC",
        "flowSampling": 0.5,
        "metadata": "INCLUDE_ALL_METADATA",
    }
    assert result.outputs["gcpNetworkId"] == network.id and result.outputs["gcpSubnetId"] == subnet.id


@pytest.mark.parametrize("stack", STACKS)
def test_private_nodes_get_egress_through_cloud_nat(synthed, stack):
    result = synthed(stack)
    network = result.one("gcp:compute/network:Network")
    subnet = result.one("gcp:compute/subnetwork:Subnetwork")
    router = result.one("gcp:compute/router:Router", f"heal7-{stack}-gcp-nat-router")
    nat = result.one("gcp:compute/routerNat:RouterNat")
    assert router.inputs["network"] == network.id and "bgp" not in router.inputs
    assert nat.inputs["router"] == router.outputs["name"]
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat.inputs["subnetworks"] == [{"name": subnet.id, "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    assert nat.inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}


@pytest.mark.parametrize("stack", STACKS)
def test_private_service_access_peers_the_configured_range_and_exports_routes(synthed, stack):
    result = synthed(stack)
    psa_cidr = RANGES[stack][3]
    network = result.one("gcp:compute/network:Network")
    address = result.one("gcp:compute/globalAddress:GlobalAddress")
    assert (address.inputs["purpose"], address.inputs["addressType"]) == ("VPC_PEERING", "INTERNAL")
    assert f"{address.inputs['address']}/{int(address.inputs['prefixLength'])}" == psa_cidr
    assert address.inputs["network"] == network.id
    connection = result.one("gcp:servicenetworking/connection:Connection")
    assert connection.inputs["service"] == "servicenetworking.googleapis.com"
    assert connection.inputs["reservedPeeringRanges"] == [address.outputs["name"]]
    assert connection.inputs["network"] == network.id
    routes = result.one("gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig")
    # Routes learned from AWS over the VPN must reach Cloud SQL's producer network.
    assert routes.inputs["peering"] == connection.outputs["peering"]
    assert routes.inputs["network"] == network.outputs["name"]
    assert routes.inputs["exportCustomRoutes"] is True and routes.inputs["importCustomRoutes"] is False
    assert result.outputs["gcpPrivateServiceAccessRange"] == address.outputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_firewall_is_a_logged_deny_all_baseline_plus_narrow_allows(synthed, stack):
    result = synthed(stack)
    subnet_cidr, pods_cidr, _, _ = RANGES[stack]
    network = result.one("gcp:compute/network:Network")
    rules = {
        r.name.removeprefix(f"heal7-{stack}-gcp-"): r
        for r in result.of_type(FIREWALL)
        if r.parent == result.one("platform:gcp:GcpNetwork").urn
    }
    assert set(rules) == {"deny-all-ingress", "allow-internal", "allow-health-checks"}
    assert all(r.inputs["network"] == network.id for r in rules.values())
    assert all(r.inputs["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"} for r in rules.values())
    assert all(r.inputs["direction"] == "INGRESS" for r in rules.values())
    baseline = rules["deny-all-ingress"]
    assert baseline.inputs["denies"] == [{"protocol": "all"}] and baseline.inputs["sourceRanges"] == ["0.0.0.0/0"]
    # The baseline sits below every allow rule (a lower number wins in GCP).
    assert all(r.inputs["priority"] < baseline.inputs["priority"] for n, r in rules.items() if n != "deny-all-ingress")
    assert rules["allow-internal"].inputs["sourceRanges"] == [subnet_cidr, pods_cidr]
    assert rules["allow-health-checks"].inputs["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    # No allow rule admits the internet.
    assert not [n for n, r in rules.items() if "allows" in r.inputs and "0.0.0.0/0" in r.inputs["sourceRanges"]]


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_artifact_registry_is_immutable_scanned_and_self_cleaning(synthed, stack, protected):
    result = synthed(stack)
    repository = result.one("gcp:artifactregistry/repository:Repository")
    assert repository.inputs["format"] == "DOCKER" and repository.inputs["location"] == "asia-northeast3"
    assert repository.inputs["repositoryId"] == f"heal7-{stack}-workloads"
    assert repository.inputs["dockerConfig"] == {"immutableTags": True}
    assert repository.inputs["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    policies = {p["id"]: p for p in repository.inputs["cleanupPolicies"]}
    assert policies["keep-most-recent"] == {
        "id": "keep-most-recent",
        "action": "KEEP",
        "mostRecentVersions": {"keepCount": 30},
    }
    assert policies["delete-untagged"]["condition"] == {"tagState": "UNTAGGED", "olderThan": "604800s"}
    assert repository.inputs["cleanupPolicyDryRun"] is False
    assert repository.protect is protected
    assert (
        result.outputs["artifactRegistryUrl"]
        == f"asia-northeast3-docker.pkg.dev/{result.one('pulumi:providers:gcp').inputs['project']}/heal7-{stack}-workloads"
    )


def test_gke_nodes_may_pull_from_the_registry_and_nothing_more(synthed):
    result = synthed("prod")
    repository = result.one("gcp:artifactregistry/repository:Repository")
    (grant,) = result.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    node_account = result.one("gcp:serviceaccount/account:Account", "heal7-prod-gke-nodes")
    assert grant.inputs["role"] == "roles/artifactregistry.reader"
    assert grant.inputs["member"] == f"serviceAccount:{node_account.outputs['email']}"
    assert grant.inputs["repository"] == repository.outputs["name"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(flow_log_sampling=0), "flow_log_sampling must be in (0, 1]"),
        (dict(private_service_access_cidr="10.138.0.0/26"), "private service access needs a /24 or larger, got /26"),
    ],
)
def test_network_rejects_bad_args_before_registering(args, message):
    base = dict(
        region="asia-northeast3",
        subnet_cidr="10.130.0.0/20",
        pods_cidr="10.132.0.0/14",
        services_cidr="10.136.0.0/20",
        private_service_access_cidr="10.138.0.0/20",
    )
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GcpNetwork("n", GcpNetworkArgs(**{**base, **args}))


def test_registry_rejects_keeping_nothing():
    with pytest.raises(ValueError, match="keep_last_versions must be >= 1, got 0"):
        ArtifactRegistry("r", ArtifactRegistryArgs(location="asia-northeast3", repository_id="x", keep_last_versions=0))


def test_gcp_names_fit_63_characters_with_the_longest_workload_name(stack_config):
    # Compute, KMS and most GCP names are RFC 1035 labels: at most 63 characters. The
    # longest name the budget allows with the stack name staging (20 - len("-staging") = 12)
    # gives the longest auto-names.
    from stacks.config.names import MAX_PREFIX_LENGTH
    from tools.synth import synth

    config = stack_config("staging")
    config["platform:name"] = "a" * (MAX_PREFIX_LENGTH - len("-staging"))
    result = synth("staging", config)
    # The physical name: the input, else the engine's auto-name (name + 8 characters).
    names = {
        r.name: r.inputs.get("name") or r.inputs.get("secretId") or r.outputs.get("name")
        for r in result.resources
        if r.package == "gcp" and r.custom and "accountId" not in r.inputs
    }
    names = {n: v for n, v in names.items() if isinstance(v, str) and "/" not in v}  # not resource paths
    assert len(names) > 30
    assert {n: v for n, v in names.items() if isinstance(v, str) and len(v) > 63} == {}
    cluster = result.one("gcp:container/cluster:Cluster")
    assert len(cluster.inputs["name"]) <= 40  # GKE's own limit
    accounts = result.of_type("gcp:serviceaccount/account:Account")
    # The GKE nodes' account and External Secrets' two Workload Identity accounts (the
    # platform's store and the workloads' store).
    assert len(accounts) == 3
    assert all(6 <= len(account.inputs["accountId"]) <= 30 for account in accounts)
