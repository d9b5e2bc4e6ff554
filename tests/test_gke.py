"""GkeCluster under mocks: private control plane, node hardening, secrets key, pools."""

import pytest
import yaml

from components.gcp.gke_cluster import AuthorizedNetwork, GkeCluster, GkeClusterArgs
from components.gcp.gke_node_pool import GkeNodePool, GkeNodePoolArgs, NodePoolSpec
from tests.conftest import STACKS
from tools.mock_gcp_resources import project_number

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-production"}
# Per-zone autoscaler bounds and machines of each tier (stacks/config/tiers.py).
POOLS = {
    "dev": {"general": ("e2-standard-4", 1, 2), "gpu": ("n1-standard-8", 0, 1)},
    "staging": {"general": ("e2-standard-8", 1, 3), "gpu": ("n1-standard-8", 0, 1)},
    "prod": {"general": ("n2-standard-8", 1, 4), "gpu": ("n1-standard-8", 1, 3)},
}
HARDENED_NODE = {
    "imageType": "COS_CONTAINERD",
    "diskType": "pd-balanced",
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "metadata": {"disable-legacy-endpoints": "true"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
}


def _child(result, component, type_token):
    (match,) = [r for r in result.children_of(component) if r.type == type_token]
    return match


def _pools(result):
    return {p.inputs["name"]: p for p in result.of_type(NODE_POOL)}


def _project(result):
    return PROJECT[result.stack]


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_is_regional_private_and_restricted(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    assert cluster.inputs["name"] == f"heal7-{stack}-gke"
    # Regional: the control plane and pools span the region's zones.
    assert cluster.inputs["location"] == "asia-northeast3"
    assert cluster.inputs["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
        "masterGlobalAccessConfig": {"enabled": False},
    }
    assert cluster.inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [],
        "gcpPublicCidrsAccessEnabled": False,
        "privateEndpointEnforcementEnabled": True,
    }
    assert result.outputs["gkeEndpoint"] == cluster.outputs["endpoint"]
    network = result.one("platform:gcp:GcpNetwork")
    # The control plane's peering waits for the private-services peering and its routes
    # config: GCP runs one peering operation per network at a time.
    peerings = [
        result.one("gcp:servicenetworking/connection:Connection"),
        result.one("gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig"),
    ]
    assert all(p.urn in cluster.dependencies for p in peerings)
    assert cluster.delete_before_replace is True  # its name is fixed
    assert cluster.inputs["network"] == result.outputs["gcpNetworkId"]
    assert cluster.inputs["subnetwork"] == result.outputs["gcpSubnetId"]
    assert cluster.inputs["networkingMode"] == "VPC_NATIVE"
    assert cluster.inputs["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": f"{network.name}-pods",
        "servicesSecondaryRangeName": f"{network.name}-services",
    }


def test_public_endpoint_takes_only_the_authorized_networks(stack_config):
    from tools.synth import synth

    config = stack_config("dev")
    config["platform:gcp"]["gke"] = {
        "publicEndpoint": True,
        "masterAuthorizedNetworks": [{"cidrBlock": "121.134.0.0/16", "displayName": "office"}],
    }
    cluster = synth("dev", config).one(CLUSTER)
    assert cluster.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert cluster.inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster.inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "121.134.0.0/16", "displayName": "office"}],
        "gcpPublicCidrsAccessEnabled": False,
        "privateEndpointEnforcementEnabled": True,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_security_settings(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    inputs = cluster.inputs
    assert inputs["workloadIdentityConfig"] == {"workloadPool": f"{_project(result)}.svc.id.goog"}
    assert inputs["enableShieldedNodes"] is True
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    # Dataplane V2 enforces NetworkPolicy itself; the Calico add-on must not be on too.
    assert "networkPolicy" not in inputs
    assert inputs["releaseChannel"] == {"channel": "STABLE" if stack == "prod" else "REGULAR"}
    assert inputs["maintenancePolicy"] == {"dailyMaintenanceWindow": {"startTime": "18:00"}}
    assert inputs["enableLegacyAbac"] is False
    assert inputs["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert inputs["deletionProtection"] is (stack == "prod") and cluster.protect is (stack == "prod")
    assert "SYSTEM_COMPONENTS" in inputs["loggingConfig"]["enableComponents"]
    assert "APISERVER" in inputs["loggingConfig"]["enableComponents"]
    assert inputs["resourceLabels"]["environment"] == stack
    assert inputs["resourceLabels"]["managed-by"] == "pulumi"


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_are_encrypted_with_the_components_key(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:gcp:GkeCluster")
    cluster = result.one(CLUSTER)
    ring = _child(result, component, "gcp:kms/keyRing:KeyRing")
    key = _child(result, component, "gcp:kms/cryptoKey:CryptoKey")
    assert ring.inputs["location"] == cluster.inputs["location"]
    assert key.inputs["keyRing"] == ring.id
    assert key.inputs["rotationPeriod"] == "7776000s"  # 90 days
    assert key.protect is ring.protect is (stack == "prod")
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key.id}
    grant = _child(result, component, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    number = project_number(_project(result))
    assert grant.inputs == {
        "cryptoKeyId": key.id,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com",
    }
    # GKE checks the key at creation: the grant must exist first.
    assert grant.urn in cluster.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_nodes_run_as_a_dedicated_least_privilege_account(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:gcp:GkeCluster")
    account = _child(result, component, ACCOUNT)
    email = account.outputs["email"]
    assert email == f"heal7-{stack}-gke-nodes@{_project(result)}.iam.gserviceaccount.com"
    assert result.outputs["gkeNodeServiceAccount"] == email
    (binding,) = [b for b in result.of_type("gcp:projects/iAMMember:IAMMember") if b.parent == component.urn]
    assert binding.inputs == {
        "project": _project(result),
        "role": "roles/container.defaultNodeServiceAccount",
        "member": f"serviceAccount:{email}",
    }
    cluster = result.one(CLUSTER)
    assert binding.urn in cluster.dependencies
    pools = _pools(result)
    assert set(pools) == {"general", "gpu"}
    # The default pool too: it boots for a few minutes before removal.
    for node_config in [cluster.inputs["nodeConfig"], *(p.inputs["nodeConfig"] for p in pools.values())]:
        assert node_config["serviceAccount"] == email
        assert {k: node_config[k] for k in HARDENED_NODE} == HARDENED_NODE


@pytest.mark.parametrize("stack", STACKS)
def test_default_pool_is_removed(synthed, stack):
    cluster = synthed(stack).one(CLUSTER)
    assert cluster.inputs["removeDefaultNodePool"] is True and cluster.inputs["initialNodeCount"] == 1
    assert set(cluster.ignore_changes) == {"nodeConfig", "initialNodeCount"}


@pytest.mark.parametrize("stack", STACKS)
def test_node_pools_autoscale_per_tier_and_upgrade_without_losing_capacity(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    for role, pool in _pools(result).items():
        machine, low, high = POOLS[stack][role]
        assert pool.inputs["cluster"] == cluster.id and pool.inputs["location"] == "asia-northeast3"
        assert pool.inputs["nodeConfig"]["machineType"] == machine
        assert pool.inputs["nodeConfig"]["diskSizeGb"] == 100
        assert pool.inputs["autoscaling"]["minNodeCount"] == low
        assert pool.inputs["autoscaling"]["maxNodeCount"] == high
        assert pool.inputs["initialNodeCount"] == low
        assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert pool.inputs["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}
        # The release channel owns the node version.
        assert "version" not in pool.inputs
        assert pool.inputs["nodeConfig"]["resourceLabels"]["environment"] == stack
        assert pool.ignore_changes == ["initialNodeCount"] and pool.delete_before_replace


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_pool_carries_the_accelerator_and_keeps_other_pods_off(synthed, stack):
    pools = _pools(synthed(stack))
    gpu, general = pools["gpu"].inputs, pools["general"].inputs
    assert gpu["nodeConfig"]["guestAccelerators"] == [
        {"type": "nvidia-tesla-t4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
    ]
    assert gpu["nodeConfig"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["nodeConfig"]["labels"]["workload"] == "ai-models"
    assert gpu["nodeLocations"] == ["asia-northeast3-b", "asia-northeast3-c"]
    assert gpu["autoscaling"]["locationPolicy"] == "ANY"
    assert "guestAccelerators" not in general["nodeConfig"] and not general["nodeConfig"].get("taints")
    assert "nodeLocations" not in general and general["autoscaling"]["locationPolicy"] == "BALANCED"


@pytest.mark.parametrize("stack", STACKS)
def test_kubeconfig_uses_the_gke_auth_plugin_and_is_secret(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    assert "gkeKubeconfig" in result.secret_outputs
    assert result.outputs["gkeClusterName"] == cluster.outputs["name"] == f"heal7-{stack}-gke"
    kubeconfig = yaml.safe_load(result.outputs["gkeKubeconfig"])
    (entry,) = kubeconfig["clusters"]
    assert entry["cluster"]["server"] == f"https://{cluster.outputs['endpoint']}"
    assert entry["cluster"]["certificate-authority-data"] == cluster.outputs["masterAuth"]["clusterCaCertificate"]
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["user"]["exec"]["provideClusterInfo"] is True
    assert "token" not in user["user"] and "client-certificate-data" not in user["user"]


# -- argument validation (raised before anything registers) -----------------------------


def _args(**overrides):
    values = dict(
        region="asia-northeast3",
        network_id="net",
        subnet_id="subnet",
        pods_range_name="pods",
        services_range_name="services",
        master_cidr="172.16.0.0/28",
        node_pools=[
            NodePoolSpec(role="general", machine_type="e2-standard-4", min_nodes_per_zone=1, max_nodes_per_zone=2)
        ],
    )
    return GkeClusterArgs(**{**values, **overrides})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"public_endpoint": True}, "public endpoint needs master_authorized_networks"),
        ({"master_authorized_networks": [AuthorizedNetwork("0.0.0.0/0", "all")]}, "0.0.0.0/0"),
        ({"master_authorized_networks": [AuthorizedNetwork("10.0.0.0/8", "")]}, "display_name"),
        ({"master_cidr": "172.16.0.0/24"}, "private /28"),
        ({"node_pools": []}, "at least one node pool"),
        ({"release_channel": "UNSPECIFIED"}, "release_channel"),
        ({"maintenance_start_time": "25:00"}, "HH:MM"),
        (
            {"node_pools": [NodePoolSpec("general", "e2-standard-4", 3, 2)]},
            "min_nodes_per_zone 3 > max_nodes_per_zone 2",
        ),
        (
            {"node_pools": [NodePoolSpec("gpu", "n1-standard-8", 0, 1, accelerator_type="nvidia-tesla-t4")]},
            "accelerator_type and a positive accelerator_count",
        ),
        (
            {"node_pools": [NodePoolSpec("gpu", "n1-standard-8", 0, 1, accelerator_count=1)]},
            "accelerator_type and a positive accelerator_count",
        ),
        (
            {"node_pools": [NodePoolSpec("a", "e2-standard-4", 1, 1), NodePoolSpec("a", "e2-standard-4", 1, 1)]},
            "unique",
        ),
        ({"node_pools": [NodePoolSpec("gpu", "n1-standard-8", 0, 1, node_locations=["asia-northeast3"])]}, "zones"),
    ],
)
def test_invalid_cluster_args_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        GkeCluster("test-gke", _args(**overrides))


def test_cluster_name_must_fit_gke():
    with pytest.raises(ValueError, match="at most 40"):
        GkeCluster("x" * 41, _args())


def test_node_pool_refuses_surge_without_extra_nodes():
    spec = NodePoolSpec("general", "e2-standard-4", 1, 2)
    with pytest.raises(ValueError, match="max_surge"):
        GkeNodePool(
            "test-pool",
            GkeNodePoolArgs(
                cluster_id="c",
                region="asia-northeast3",
                service_account_email="sa@p.iam.gserviceaccount.com",
                spec=spec,
                max_surge=0,
            ),
        )
