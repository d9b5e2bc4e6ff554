"""CrossCloudVpn under mocks: Google's four-tunnel HA VPN to an AWS VGW, with BGP.

Every cross-cloud value is checked as a relationship: what one cloud is given must be
what the other cloud's resource reports.
"""

import ipaddress

import pytest

from components.multicloud._tunnels import PHASE1, PHASE2
from components.multicloud.cross_cloud_vpn import CrossCloudVpn, CrossCloudVpnArgs, _expect_count
from stacks.config.loader import parse_platform_config
from tests.conftest import STACKS
from tools.mock_vpn_resources import VPN_RESOURCE_OUTPUTS
from tools.synth import Secret, read_stack_config

COMPONENT = "platform:multicloud:CrossCloudVpn"
CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
CUSTOMER_GATEWAY = "aws:ec2/customerGateway:CustomerGateway"
HA_GATEWAY = "gcp:compute/haVpnGateway:HaVpnGateway"
PEER_GATEWAY = "gcp:compute/externalVpnGateway:ExternalVpnGateway"
TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"
ROUTER = "gcp:compute/router:Router"
INTERFACE = "gcp:compute/routerInterface:RouterInterface"
PEER = "gcp:compute/routerPeer:RouterPeer"
# (AWS connection, tunnel number) of GCP tunnels 0-3, as in Google's AWS topology.
LAYOUT = [(0, 1), (0, 2), (1, 1), (1, 2)]


def _config(stack):
    raw = {k: v for k, v in read_stack_config(stack).items() if k.split(":", 1)[0] in ("platform", "aws", "gcp")}
    return parse_platform_config(raw, stack)


def _vpn(result, stack):
    """The component's children by role, e.g. `parts["tunnel-0"]`, `parts["conn-1"]`."""
    component = result.one(COMPONENT, f"heal7-{stack}-vpn")
    prefix = f"heal7-{stack}-vpn-"
    return {r.name.removeprefix(prefix): r for r in result.children_of(component) if r.custom}


def _aws_tunnel(parts, index, attribute):
    connection, number = LAYOUT[index]
    return parts[f"conn-{connection}"].outputs[f"tunnel{number}{attribute}"]


@pytest.mark.parametrize("stack", STACKS)
def test_customer_gateways_are_the_ha_vpn_interfaces(synthed, stack):
    result = synthed(stack)
    parts = _vpn(result, stack)
    interfaces = {i["id"]: i["ipAddress"] for i in parts["gateway"].outputs["vpnInterfaces"]}
    assert parts["gateway"].inputs["network"] == result.outputs["gcpNetworkId"]
    for index in (0, 1):
        gateway = parts[f"cgw-{index}"]
        assert gateway.type == CUSTOMER_GATEWAY
        assert gateway.inputs["ipAddress"] == interfaces[index]
        assert (gateway.inputs["type"], gateway.inputs["bgpAsn"]) == ("ipsec.1", "64514")
        # Connection i terminates on HA VPN interface i.
        assert parts[f"conn-{index}"].inputs["customerGatewayId"] == gateway.id
    assert result.outputs["vpnGcpGatewayIps"] == [interfaces[0], interfaces[1]]


@pytest.mark.parametrize("stack", STACKS)
def test_aws_side_is_a_bgp_vgw_on_the_vpc(synthed, stack):
    parts = _vpn(synthed(stack), stack)
    vgw = parts["vgw"]
    assert vgw.inputs["vpcId"] == synthed(stack).outputs["vpcId"] and vgw.inputs["amazonSideAsn"] == "64512"
    for index in (0, 1):
        connection = parts[f"conn-{index}"]
        assert connection.type == CONNECTION and connection.inputs["vpnGatewayId"] == vgw.id
        assert connection.inputs["type"] == "ipsec.1" and connection.inputs["staticRoutesOnly"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_external_gateway_lists_the_four_aws_outside_addresses_in_order(synthed, stack):
    result = synthed(stack)
    parts = _vpn(result, stack)
    peer = parts["aws-peer"]
    assert peer.type == PEER_GATEWAY and peer.inputs["redundancyType"] == "FOUR_IPS_REDUNDANCY"
    expected = [_aws_tunnel(parts, i, "Address") for i in range(4)]
    assert [(i["id"], i["ipAddress"]) for i in peer.inputs["interfaces"]] == list(enumerate(expected))
    assert len(set(expected)) == 4
    assert result.outputs["vpnAwsTunnelAddresses"] == expected


@pytest.mark.parametrize("stack", STACKS)
def test_each_tunnel_has_its_interface_and_bgp_peer(synthed, stack):
    result = synthed(stack)
    parts = _vpn(result, stack)
    inside_cidrs = [ipaddress.IPv4Network(c) for c in _config(stack).gcp.vpn.inside_cidrs]
    router = parts["router"]
    for index, cidr in enumerate(inside_cidrs):
        connection, number = LAYOUT[index]
        tunnel, interface, peer = parts[f"tunnel-{index}"], parts[f"if-{index}"], parts[f"peer-{index}"]
        assert (tunnel.type, interface.type, peer.type) == (TUNNEL, INTERFACE, PEER)
        assert parts[f"conn-{connection}"].inputs[f"tunnel{number}InsideCidr"] == str(cidr)
        assert tunnel.inputs["vpnGateway"] == parts["gateway"].id
        assert tunnel.inputs["vpnGatewayInterface"] == index // 2
        assert tunnel.inputs["peerExternalGateway"] == parts["aws-peer"].id
        assert tunnel.inputs["peerExternalGatewayInterface"] == index
        assert tunnel.inputs["router"] == router.id
        cgw_inside, vgw_inside = (
            _aws_tunnel(parts, index, "CgwInsideAddress"),
            _aws_tunnel(parts, index, "VgwInsideAddress"),
        )
        # AWS's rule, honoured by the mock: the VGW takes the first host, Google the second.
        assert (vgw_inside, cgw_inside) == tuple(str(h) for h in cidr.hosts())
        assert interface.inputs["router"] == router.outputs["name"]
        assert interface.inputs["vpnTunnel"] == tunnel.outputs["name"]
        assert interface.inputs["ipRange"] == f"{cgw_inside}/30"
        assert peer.inputs["interface"] == interface.outputs["name"]
        assert (peer.inputs["ipAddress"], peer.inputs["peerIpAddress"]) == (cgw_inside, vgw_inside)
        assert peer.inputs["peerAsn"] == 64512 and peer.inputs["router"] == router.outputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_tunnels_speak_only_ikev2_with_one_strong_proposal(synthed, stack):
    parts = _vpn(synthed(stack), stack)
    for index in range(4):
        assert parts[f"tunnel-{index}"].inputs["ikeVersion"] == 2
        connection, number = LAYOUT[index]
        options = {
            k.removeprefix(f"tunnel{number}"): v
            for k, v in parts[f"conn-{connection}"].inputs.items()
            if k.startswith(f"tunnel{number}")
        }
        assert options["IkeVersions"] == ["ikev2"]
        # One transform per role (Google's AWS guide: avoids fragmented IKE and failed rekeys).
        assert options["Phase1EncryptionAlgorithms"] == [PHASE1.encryption] == ["AES256"]
        assert options["Phase1IntegrityAlgorithms"] == [PHASE1.integrity] == ["SHA2-256"]
        assert options["Phase1DhGroupNumbers"] == [PHASE1.dh_group] == [20]
        assert options["Phase2EncryptionAlgorithms"] == [PHASE2.encryption]
        assert options["Phase2IntegrityAlgorithms"] == [PHASE2.integrity]
        assert options["Phase2DhGroupNumbers"] == [PHASE2.dh_group]
        assert (options["StartupAction"], options["DpdTimeoutAction"]) == ("start", "restart")


@pytest.mark.parametrize("stack", STACKS)
def test_preshared_keys_are_secret_and_match_across_clouds(synthed, stack):
    result = synthed(stack)
    parts = _vpn(result, stack)
    keys = []
    for index in range(4):
        connection, number = LAYOUT[index]
        aws_key = parts[f"conn-{connection}"].inputs[f"tunnel{number}PresharedKey"]
        gcp_key = parts[f"tunnel-{index}"].inputs["sharedSecret"]
        assert isinstance(aws_key, Secret) and isinstance(gcp_key, Secret)
        assert gcp_key == aws_key == Secret(parts[f"psk-{index}"].outputs["result"])
        # AWS: 8-64 of [A-Za-z0-9._], no leading '0'; letters only guarantees it.
        password = parts[f"psk-{index}"].inputs
        assert (password["length"], password["special"], password["numeric"]) == (32, False, False)
        keys.append(aws_key.value)
    assert len(set(keys)) == 4


@pytest.mark.parametrize("stack", STACKS)
def test_every_private_route_table_learns_the_gcp_routes(synthed, stack):
    result = synthed(stack)
    parts = _vpn(result, stack)
    zones = _config(stack).aws.availability_zones
    # Named by zone, in the network's zone order: dropping a zone touches only its own.
    propagations = [parts[f"propagation-{zone}"] for zone in zones]
    assert [p.inputs["routeTableId"] for p in propagations] == result.outputs["privateRouteTableIds"]
    assert len([role for role in parts if role.startswith("propagation-")]) == len(zones)
    assert all(p.inputs["vpnGatewayId"] == parts["vgw"].id for p in propagations)


@pytest.mark.parametrize("stack", STACKS)
def test_vpn_router_is_its_own_and_advertises_the_cloud_sql_and_gke_pods_ranges(synthed, stack):
    result = synthed(stack)
    router = _vpn(result, stack)["router"]
    psa = result.one("gcp:compute/globalAddress:GlobalAddress")
    psa_cidr = f"{psa.inputs['address']}/{int(psa.inputs['prefixLength'])}"
    assert psa_cidr == str(_config(stack).gcp.network.private_service_access_cidr)
    bgp = router.inputs["bgp"]
    assert (bgp["asn"], bgp["advertiseMode"], bgp["advertisedGroups"]) == (64514, "CUSTOM", ["ALL_SUBNETS"])
    pods = str(_config(stack).gcp.network.pods_cidr)
    assert [r["range"] for r in bgp["advertisedIpRanges"]] == [psa_cidr, pods]
    assert router.inputs["network"] == result.outputs["gcpNetworkId"]
    assert [r.name for r in result.of_type(ROUTER) if "bgp" in r.inputs] == [router.name]


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("prod", True)])
def test_tunnel_and_bgp_logs_go_to_an_encrypted_group(synthed, stack, protected):
    parts = _vpn(synthed(stack), stack)
    group, key = parts["tunnel-logs"], parts["logs-key"]
    assert group.inputs["name"] == f"/aws/vendedlogs/vpn/heal7-{stack}-vpn"
    assert group.inputs["kmsKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    assert group.protect is protected and key.protect is protected
    for connection, number in LAYOUT:
        logs = parts[f"conn-{connection}"].inputs[f"tunnel{number}LogOptions"]["cloudwatchLogOptions"]
        assert logs["logEnabled"] is True and logs["bgpLogEnabled"] is True
        assert logs["logGroupArn"] == logs["bgpLogGroupArn"] == group.outputs["arn"]


# -- argument validation (before registration, so no mock monitor is involved) ----------

GOOD_CIDRS = ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30"]


def _args(**overrides):
    values = dict(
        gcp_region="asia-northeast3",
        gcp_network_id="net",
        aws_vpc_id="vpc-1",
        aws_private_route_table_ids=["rtb-1"],
        aws_private_route_table_keys=["a"],
        inside_cidrs=GOOD_CIDRS,
    )
    return CrossCloudVpnArgs(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gcp_asn": 64512, "aws_asn": 64512}, "gcp_asn and aws_asn must differ"),
        ({"gcp_asn": 64511}, "gcp_asn must be a private ASN"),
        ({"gcp_asn": 65535}, "gcp_asn must be a private ASN"),
        ({"aws_asn": 4294967295}, "aws_asn must be a private ASN"),
        ({"inside_cidrs": GOOD_CIDRS[:3]}, "expected 4 inside CIDRs"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.21.0/30"]}, "169.254.21.0/30 and 169.254.21.0/30 overlap"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.21.0/29"]}, "must be a /30"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.30.0/29"]}, "must be a /30"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "10.0.0.0/30"]}, "must lie inside 169.254.0.0/16"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.3.0/30"]}, "169.254.3.0/30 is reserved by AWS"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.169.252/30"]}, "is reserved by AWS"),
        ({"inside_cidrs": [*GOOD_CIDRS[:3], "169.254.30.1/30"]}, "is not an IPv4 network"),
        ({"aws_private_route_table_keys": []}, "no private route tables"),
        ({"aws_private_route_table_keys": ["a", "a"]}, "route table keys must be unique"),
    ],
)
def test_bad_args_fail_before_anything_registers(overrides, message):
    with pytest.raises(ValueError, match=f"CrossCloudVpn x: .*{message}"):
        CrossCloudVpn("x", _args(**overrides))


def test_route_table_count_is_checked_when_the_ids_resolve():
    assert _expect_count("x", ["rtb-1", "rtb-2"], 2) == ["rtb-1", "rtb-2"]
    with pytest.raises(ValueError, match="3 route table keys but 2 route table ids arrived"):
        _expect_count("x", ["rtb-1", "rtb-2"], 3)


def test_32_bit_private_asns_use_the_extended_customer_gateway_field():
    from components.multicloud._tunnels import customer_gateway_asn

    assert customer_gateway_asn(64514) == {"bgp_asn": "64514"}
    assert customer_gateway_asn(4200000001) == {"bgp_asn_extended": "4200000001"}


def test_mock_connection_assigns_inside_addresses_as_aws_does():
    _, outputs = VPN_RESOURCE_OUTPUTS[CONNECTION](
        "c", {"tunnel1InsideCidr": "169.254.171.16/30", "tunnel2InsideCidr": "169.254.156.152/30"}, "r", "1"
    )
    # The addresses in Google's AWS guide: Cloud Router .18 and AWS .17 in 169.254.171.16/30.
    assert (outputs["tunnel1VgwInsideAddress"], outputs["tunnel1CgwInsideAddress"]) == (
        "169.254.171.17",
        "169.254.171.18",
    )
    assert (outputs["tunnel2VgwInsideAddress"], outputs["tunnel2CgwInsideAddress"]) == (
        "169.254.156.153",
        "169.254.156.154",
    )
