"""Network rules on the way from a cluster's pods to a data store, evaluated over a synth
result: NetworkPolicy egress, the security group, the stateless network ACL, the GCP egress
firewall, and for GKE the HA VPN's BGP advertisement and AWS's route propagation.
tests/test_data_path.py follows each workload's URLs through them.
"""

import ipaddress
from dataclasses import dataclass

from tools.synth import Registration, SynthResult

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
# Destinations GKE never masquerades by default (its ip-masq-agent defaults, as Kubernetes'
# ip-masq-agent's): traffic there leaves with the pod's own IP, which AWS must admit.
NON_MASQUERADE = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


@dataclass(frozen=True)
class Endpoint:
    """A data store as a network destination."""

    host: str
    port: int
    subnets: list[ipaddress.IPv4Network]
    """Where the endpoint's address comes from (its subnet group, or its allocated range)."""
    security_group: str | None
    """The endpoint's security group id (None: a Cloud SQL private IP, guarded by TLS and the policy)."""


def cluster_provider(result: SynthResult, cluster: str) -> str:
    (provider,) = [r.urn for r in result.of_type("pulumi:providers:kubernetes") if r.name == f"{cluster}-k8s"]
    return provider


def on_cluster(result: SynthResult, cluster: str, type_token: str) -> list[Registration]:
    provider = cluster_provider(result, cluster)
    return [r for r in result.of_type(type_token) if r.provider == provider]


def policy_egress_admits(
    result: SynthResult, cluster: str, namespace: str, cidr: ipaddress.IPv4Network, port: int
) -> bool:
    """Some egress rule of the namespace's policies reaches all of `cidr` on TCP `port`."""
    for policy in on_cluster(result, cluster, NETWORK_POLICY):
        if policy.inputs["metadata"]["namespace"] != namespace:
            continue
        for rule in policy.inputs["spec"].get("egress") or []:
            blocks = [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]
            reaches = any(cidr.subnet_of(ipaddress.ip_network(b["cidr"])) and not b.get("except") for b in blocks)
            ports = {(p["protocol"], int(p["port"])) for p in rule.get("ports", [])}
            if reaches and ("TCP", port) in ports:
                return True
    return False


def gke_pods_range(result: SynthResult) -> ipaddress.IPv4Network:
    """The range GKE gives pods: the cluster's named secondary range of its subnetwork."""
    (cluster,) = result.of_type("gcp:container/cluster:Cluster")
    (subnetwork,) = [
        s for s in result.of_type("gcp:compute/subnetwork:Subnetwork") if s.id == cluster.inputs["subnetwork"]
    ]
    name = cluster.inputs["ipAllocationPolicy"]["clusterSecondaryRangeName"]
    (cidr,) = [r["ipCidrRange"] for r in subnetwork.inputs["secondaryIpRanges"] if r["rangeName"] == name]
    return ipaddress.ip_network(cidr)


def nacl_allows(entries: list[dict], source: ipaddress.IPv4Network, port: int) -> bool:
    """A stateless ACL's verdict for TCP from all of `source` to `port`: the lowest-numbered
    matching entry decides; no match denies."""
    for entry in sorted(entries, key=lambda e: e["ruleNo"]):
        protocol_matches = entry["protocol"] in ("-1", "tcp", "6")
        port_matches = entry["protocol"] == "-1" or entry["fromPort"] <= port <= entry["toPort"]
        if protocol_matches and port_matches and source.subnet_of(ipaddress.ip_network(entry["cidrBlock"])):
            return entry["action"] == "allow"
    return False


def aws_side_admits(result: SynthResult, target: Endpoint, source: ipaddress.IPv4Network) -> None:
    """The endpoint's subnets take TCP from `source` on its port and answer it (stateless ACL)."""
    (acl,) = result.of_type("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
    subnets = {s.id: ipaddress.ip_network(s.inputs["cidrBlock"]) for s in result.of_type("aws:ec2/subnet:Subnet")}
    assert set(target.subnets) <= {subnets[i] for i in acl.inputs["subnetIds"]}
    assert nacl_allows(acl.inputs["ingress"], source, target.port)
    # Replies go back to the client's ephemeral port (Linux draws from 32768-60999).
    assert all(nacl_allows(acl.inputs["egress"], source, port) for port in (32768, 60999))


def security_group_admits(result: SynthResult, target: Endpoint, **source: str) -> None:
    rules = [r for r in result.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == target.security_group]
    assert any(
        (r.inputs["ipProtocol"], int(r.inputs["fromPort"]), int(r.inputs["toPort"]))
        == ("tcp", target.port, target.port)
        and all(r.inputs.get(key) == value for key, value in source.items())
        for r in rules
    ), (source, [r.inputs for r in rules])


def vpn_carries(result: SynthResult, pods: ipaddress.IPv4Network, target: Endpoint) -> None:
    """GKE -> AWS: the VPN's Cloud Router advertises the pods range, and every route table
    of the endpoint's subnets learns it from the virtual private gateway the tunnels end on."""
    tunnels = result.of_type("gcp:compute/vPNTunnel:VPNTunnel")
    (router,) = [r for r in result.of_type("gcp:compute/router:Router") if r.id == tunnels[0].inputs["router"]]
    assert {t.inputs["router"] for t in tunnels} == {router.id}
    assert str(pods) in [r["range"] for r in router.inputs["bgp"]["advertisedIpRanges"]]
    (vgw,) = result.of_type("aws:ec2/vpnGateway:VpnGateway")
    connections = result.of_type("aws:ec2/vpnConnection:VpnConnection")
    assert connections and all(c.inputs["vpnGatewayId"] == vgw.id for c in connections)
    assert all(c.inputs["staticRoutesOnly"] is False for c in connections)  # BGP, not static routes
    subnets = {ipaddress.ip_network(s.inputs["cidrBlock"]): s for s in result.of_type("aws:ec2/subnet:Subnet")}
    learning = {
        p.inputs["routeTableId"]
        for p in result.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
        if p.inputs["vpnGatewayId"] == vgw.id
    }
    for cidr in target.subnets:
        subnet = subnets[cidr]
        assert subnet.inputs["vpcId"] == vgw.inputs["vpcId"]
        (association,) = [
            a
            for a in result.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
            if a.inputs["subnetId"] == subnet.id
        ]
        assert association.inputs["routeTableId"] in learning
        # The pods keep their own IPs towards this subnet (GKE's default non-masquerade set).
        assert any(cidr.subnet_of(block) for block in NON_MASQUERADE)


def gcp_egress_allows(result: SynthResult, target: Endpoint) -> bool:
    """GCP's verdict for TCP from the cluster's network to the endpoint: the highest-priority
    matching EGRESS rule decides; none matching means the implied allow."""
    rules = [f for f in result.of_type("gcp:compute/firewall:Firewall") if f.inputs.get("direction") == "EGRESS"]
    for rule in sorted(rules, key=lambda f: f.inputs["priority"]):
        ranges = [ipaddress.ip_network(c) for c in rule.inputs.get("destinationRanges", [])]
        if any(cidr.subnet_of(r) for r in ranges for cidr in target.subnets):
            return bool(rule.inputs.get("allows"))
    return True
