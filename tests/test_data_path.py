"""The workloads' data path, followed through the synthesized stacks, both clusters.

For every workload that `uses` a data store, on every cluster it is placed on: the pod's
environment variable -> the ExternalSecret's remote key -> the secret resource holding it ->
its value, a URL -> the data store resource whose outputs it was built from. Then from the
pod's cluster to that endpoint: the namespace's NetworkPolicy egress (CIDR and port), for
GKE the pods range advertised over BGP and learned by AWS's route tables, the network ACL,
and the endpoint's security group rule (the EKS nodes' group, or the GKE pods range).
The identities the workloads' secret store reads as are followed in
tests/test_workload_secret_store.py.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from stacks.config.loader import parse_platform_config
from stacks.config.models import PlatformConfig
from tests.conftest import STACKS
from tests.network_paths import (
    Endpoint,
    aws_side_admits,
    gcp_egress_allows,
    gke_pods_range,
    on_cluster,
    policy_egress_admits,
    security_group_admits,
    vpn_carries,
)
from tools.synth import Registration, Secret, SynthResult, read_stack_config

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# A canary or blueGreen workload runs as an Argo Rollout with the same pod template.
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
WORKLOAD_STORE = "workload-secrets"
# What each data store in a workload's `uses` gives its pods, per cluster (the decision:
# GKE reads the replica, writes to RDS across the VPN, and shares ElastiCache).
EXPECTED_VARIABLES = {
    "eks": {"database": {"DATABASE_URL"}, "redis": {"REDIS_URL"}},
    "gke": {"database": {"DATABASE_URL", "DATABASE_READ_URL"}, "redis": {"REDIS_URL"}},
}


@dataclass(frozen=True)
class PodSecret:
    cluster: str
    workload: str
    namespace: str
    variable: str
    url: str


def _config(stack: str) -> PlatformConfig:
    raw = {k: v for k, v in read_stack_config(stack).items() if k.split(":", 1)[0] in ("platform", "aws", "gcp")}
    return parse_platform_config(raw, stack)


def _value(secret: Registration, result: SynthResult, cloud: str) -> str:
    """The value stored in a Secrets Manager / Secret Manager secret, through its version."""
    if cloud == "aws":
        (version,) = [
            v
            for v in result.of_type("aws:secretsmanager/secretVersion:SecretVersion")
            if v.inputs["secretId"] == secret.id
        ]
        value = version.inputs["secretString"]
    else:
        (version,) = [
            v
            for v in result.of_type("gcp:secretmanager/secretVersion:SecretVersion")
            if v.inputs["secret"] == secret.id
        ]
        value = version.inputs["secretData"]
    # Marked secret all the way to the provider.
    assert isinstance(value, Secret)
    return str(value.value)


def pod_secrets(result: SynthResult, stack: str) -> list[PodSecret]:
    """Every secret variable of every workload's pods: Deployment env -> ExternalSecret ->
    the secret resource its remote key names -> that resource's stored value."""
    found = []
    for cloud, cluster in (("aws", "eks"), ("gcp", "gke")):
        name = f"heal7-{stack}-{cluster}"
        external = {
            (e.inputs["metadata"]["namespace"], e.inputs["spec"]["target"]["name"]): e
            for e in on_cluster(result, name, EXTERNAL_SECRET)
        }
        for deployment in [*on_cluster(result, name, DEPLOYMENT), *on_cluster(result, name, ROLLOUT)]:
            metadata = deployment.inputs["metadata"]
            (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
            for env in container["env"]:
                reference = env.get("valueFrom", {}).get("secretKeyRef")
                if reference is None:
                    continue
                target = external[(metadata["namespace"], reference["name"])]
                spec = target.inputs["spec"]
                assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": WORKLOAD_STORE}
                (item,) = [d for d in spec["data"] if d["secretKey"] == reference["key"] == env["name"]]
                key = item["remoteRef"]["key"]
                if cloud == "aws":
                    (secret,) = [
                        s for s in result.of_type("aws:secretsmanager/secret:Secret") if s.inputs.get("name") == key
                    ]
                else:
                    (secret,) = [
                        s for s in result.of_type("gcp:secretmanager/secret:Secret") if s.inputs["secretId"] == key
                    ]
                url = _value(secret, result, cloud)
                found.append(PodSecret(cluster, metadata["name"], metadata["namespace"], env["name"], url))
    return found


def _subnet_cidrs(result: SynthResult, subnet_ids: list[str]) -> list[ipaddress.IPv4Network]:
    subnets = {s.id: s for s in result.of_type("aws:ec2/subnet:Subnet")}
    return [ipaddress.ip_network(subnets[i].inputs["cidrBlock"]) for i in subnet_ids]


def endpoint(result: SynthResult, variable: str, url: str) -> Endpoint:
    """The data store a URL was built from, found by its outputs; fails if it names none."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    if variable == "REDIS_URL":
        (group,) = result.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
        assert (parts.scheme, parts.hostname) == ("rediss", group.outputs["primaryEndpointAddress"])
        assert parts.port == int(group.inputs["port"])
        (token,) = [
            p
            for p in result.of_type("random:index/randomPassword:RandomPassword")
            if p.name.endswith("-redis-auth-token")
        ]
        assert (parts.username, unquote(parts.password or "")) == ("", token.outputs["result"])
        assert group.inputs["transitEncryptionEnabled"] is True
        assert group.inputs["authToken"].value == token.outputs["result"]
        (subnet_group,) = [
            g
            for g in result.of_type("aws:elasticache/subnetGroup:SubnetGroup")
            if g.outputs["name"] == group.inputs["subnetGroupName"]
        ]
        (group_id,) = group.inputs["securityGroupIds"]
        return Endpoint(parts.hostname, parts.port, _subnet_cidrs(result, subnet_group.inputs["subnetIds"]), group_id)

    assert parts.scheme == "postgresql"
    (instance,) = result.of_type("aws:rds/instance:Instance")
    (password,) = [
        p for p in result.of_type("random:index/randomPassword:RandomPassword") if p.name.endswith("-database-password")
    ]
    # The application user, never the master user (whose password only RDS knows).
    assert parts.username == f"{instance.inputs['dbName']}_app" != instance.inputs["username"]
    assert unquote(parts.password or "") == password.outputs["result"]
    assert parts.path == f"/{instance.inputs['dbName']}"
    (sslmode,) = parse_qs(parts.query)["sslmode"]
    if variable == "DATABASE_URL":
        # The primary by its endpoint address, its certificate checked against the name.
        assert (parts.hostname, parts.port, sslmode) == (
            instance.outputs["address"],
            instance.outputs["port"],
            "verify-full",
        )
        (subnet_group,) = [
            g
            for g in result.of_type("aws:rds/subnetGroup:SubnetGroup")
            if g.outputs["name"] == instance.inputs["dbSubnetGroupName"]
        ]
        (group_id,) = instance.inputs["vpcSecurityGroupIds"]
        return Endpoint(parts.hostname, parts.port, _subnet_cidrs(result, subnet_group.inputs["subnetIds"]), group_id)

    assert variable == "DATABASE_READ_URL"
    (replica,) = result.of_type("gcp:sql/databaseInstance:DatabaseInstance")
    assert (parts.hostname, parts.port, sslmode) == (replica.outputs["privateIpAddress"], 5432, "verify-ca")
    # The replica's private IP is allocated from the private-services range (no public IP).
    ip_configuration = replica.inputs["settings"]["ipConfiguration"]
    assert ip_configuration["ipv4Enabled"] is False
    (allocated,) = [
        a
        for a in result.of_type("gcp:compute/globalAddress:GlobalAddress")
        if a.outputs["name"] == ip_configuration["allocatedIpRange"]
    ]
    cidr = ipaddress.ip_network(f"{allocated.inputs['address']}/{int(allocated.inputs['prefixLength'])}")
    return Endpoint(parts.hostname, parts.port, [cidr], None)


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_gets_exactly_the_urls_its_uses_declare(synthed, stack):
    found = pod_secrets(synthed(stack), stack)
    workloads = _config(stack).workloads
    for cluster in ("eks", "gke"):
        got = {(s.workload, s.variable) for s in found if s.cluster == cluster}
        expected = {
            (name, variable)
            for name, workload in workloads.items()
            if cluster in workload.placement
            for store in workload.uses
            for variable in EXPECTED_VARIABLES[cluster][store]
        }
        assert got == expected and expected


@pytest.mark.parametrize("stack", STACKS)
def test_each_url_reaches_its_endpoint_through_every_rule_on_the_way(synthed, stack):
    result = synthed(stack)
    pods = gke_pods_range(result)
    (vpc,) = result.of_type("aws:ec2/vpc:Vpc")
    for secret in pod_secrets(result, stack):
        target = endpoint(result, secret.variable, secret.url)
        cluster = f"heal7-{stack}-{secret.cluster}"
        for cidr in target.subnets:
            assert policy_egress_admits(result, cluster, secret.namespace, cidr, target.port), (secret, cidr)
        if secret.variable == "DATABASE_READ_URL":
            # Same VPC as the cluster: the replica is reached over the private-services peering.
            (replica,) = result.of_type("gcp:sql/databaseInstance:DatabaseInstance")
            (gke,) = result.of_type("gcp:container/cluster:Cluster")
            assert replica.inputs["settings"]["ipConfiguration"]["privateNetwork"] == gke.inputs["network"]
            assert gcp_egress_allows(result, target)
            continue
        assert all(cidr.subnet_of(ipaddress.ip_network(vpc.inputs["cidrBlock"])) for cidr in target.subnets)
        if secret.cluster == "eks":
            security_group_admits(result, target, referencedSecurityGroupId=result.outputs["eksNodeSecurityGroupId"])
            # The nodes (and with the VPC CNI, the pods) live in the EKS cluster's subnets.
            (eks,) = result.of_type("aws:eks/cluster:Cluster")
            for node_subnet in _subnet_cidrs(result, eks.inputs["vpcConfig"]["subnetIds"]):
                aws_side_admits(result, target, node_subnet)
        else:
            security_group_admits(result, target, cidrIpv4=str(pods))
            vpn_carries(result, pods, target)
            assert gcp_egress_allows(result, target)
            aws_side_admits(result, target, pods)


@pytest.mark.parametrize("stack", STACKS)
def test_gke_reads_the_replica_and_writes_and_shares_sessions_through_aws(synthed, stack):
    """The decision, as values: the same primary and the same Redis on both clusters, the
    replica on GKE only; nothing on GCP can be written to through these URLs but RDS."""
    by_cluster: dict[str, dict[str, set[str]]] = {"eks": {}, "gke": {}}
    for secret in pod_secrets(synthed(stack), stack):
        by_cluster[secret.cluster].setdefault(secret.variable, set()).add(secret.url)
    assert all(len(urls) == 1 for cluster in by_cluster.values() for urls in cluster.values())
    assert by_cluster["eks"]["DATABASE_URL"] == by_cluster["gke"]["DATABASE_URL"]
    assert by_cluster["eks"]["REDIS_URL"] == by_cluster["gke"]["REDIS_URL"]
    assert "DATABASE_READ_URL" not in by_cluster["eks"]
    assert by_cluster["gke"]["DATABASE_READ_URL"] != by_cluster["gke"]["DATABASE_URL"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_ip_masquerade_config_overrides_gkes_defaults(synthed, stack):
    """The path relies on GKE's default non-masquerade destinations: a custom ip-masq-agent
    ConfigMap would replace them (and the pods would reach AWS as node IPs, which it refuses)."""
    result = synthed(stack)
    config_maps = on_cluster(result, f"heal7-{stack}-gke", "kubernetes:core/v1:ConfigMap")
    assert not [c for c in config_maps if c.inputs["metadata"].get("name") == "ip-masq-agent"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_database_url_names_a_ca_file_its_pod_mounts_holding_that_servers_ca(synthed, stack):
    """libpq verifies the server against `sslrootcert`: the file must be in the pod, and hold the CA
    the server's certificate chains to (neither is in a system trust store)."""
    result = synthed(stack)
    config = _config(stack)
    (replica,) = result.of_type("gcp:sql/databaseInstance:DatabaseInstance")
    expected_ca = {
        "DATABASE_URL": config.rds_ca_certificate,  # the RDS root of the region, from certs/
        "DATABASE_READ_URL": replica.outputs["serverCaCerts"][0]["cert"],  # the replica's instance CA
    }
    checked = 0
    for secret in pod_secrets(result, stack):
        if secret.variable not in expected_ca:
            continue
        (root_cert,) = parse_qs(urlsplit(secret.url).query)["sslrootcert"]
        directory, _, file_name = root_cert.rpartition("/")
        name = f"heal7-{stack}-{secret.cluster}"
        (pod,) = [
            w.inputs["spec"]["template"]["spec"]
            for w in [*on_cluster(result, name, DEPLOYMENT), *on_cluster(result, name, ROLLOUT)]
            if w.inputs["metadata"]["name"] == secret.workload
        ]
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == directory]
        assert mount["readOnly"] is True
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        (config_map,) = [
            c
            for c in on_cluster(result, name, "kubernetes:core/v1:ConfigMap")
            if c.inputs["metadata"].get("name") == volume["configMap"]["name"]
            and c.inputs["metadata"]["namespace"] == secret.namespace
        ]
        assert config_map.inputs["data"][file_name] == expected_ca[secret.variable], (secret.cluster, secret.variable)
        assert expected_ca[secret.variable].startswith("-----BEGIN CERTIFICATE-----")
        checked += 1
    # web-main and api-gateway on both clusters, saju-engine on EKS; GKE's two also read the replica.
    assert checked == 7
