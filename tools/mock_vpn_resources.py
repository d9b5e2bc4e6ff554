"""Mock outputs for the AWS side of the cross-cloud VPN (merged into the AWS builders).

AWS assigns the tunnel inside addresses from each tunnel's /30: the virtual private
gateway takes the first host and the customer gateway the second (Google's AWS guide
shows `peerIpAddress: 169.254.171.17` for AWS and `ipAddress: 169.254.171.18` for
Cloud Router in the same /30). The outside addresses are AWS public IPs.
"""

import ipaddress
from typing import Any

from tools.mock_resources import arn
from tools.mock_values import hex_of, public_ip


def _vpn_gateway(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    gateway_id = f"vgw-{hex_of('vgw' + name)}"
    return gateway_id, {
        "arn": arn("ec2", region, account, f"vpn-gateway/{gateway_id}"),
        "amazonSideAsn": str(inputs.get("amazonSideAsn") or "64512"),
    }


def _route_propagation(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('routeTableId')}_{inputs.get('vpnGatewayId')}", {}


def _customer_gateway(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    gateway_id = f"cgw-{hex_of('cgw' + name)}"
    return gateway_id, {"arn": arn("ec2", region, account, f"customer-gateway/{gateway_id}")}


def _vpn_connection(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    connection_id = f"vpn-{hex_of('vpn' + name)}"
    outputs: dict[str, Any] = {
        "arn": arn("ec2", region, account, f"vpn-connection/{connection_id}"),
        "customerGatewayConfiguration": f'<vpn_connection id="{connection_id}"/>',
        "routes": [],
    }
    for tunnel in (1, 2):
        inside = inputs.get(f"tunnel{tunnel}InsideCidr")
        # Without an inside CIDR AWS picks a free /30 itself; any non-reserved one stands in.
        cidr = ipaddress.IPv4Network(inside or f"169.254.{10 + int(hex_of(name + str(tunnel), 2), 16) % 200}.0/30")
        vgw_host, cgw_host = list(cidr.hosts())
        outputs |= {
            f"tunnel{tunnel}Address": public_ip(f"{name}-tunnel{tunnel}"),
            f"tunnel{tunnel}InsideCidr": str(cidr),
            f"tunnel{tunnel}VgwInsideAddress": str(vgw_host),
            f"tunnel{tunnel}CgwInsideAddress": str(cgw_host),
            f"tunnel{tunnel}BgpHoldtime": 30,
        }
    return connection_id, outputs


VPN_RESOURCE_OUTPUTS = {
    "aws:ec2/vpnGateway:VpnGateway": _vpn_gateway,
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": _route_propagation,
    "aws:ec2/customerGateway:CustomerGateway": _customer_gateway,
    "aws:ec2/vpnConnection:VpnConnection": _vpn_connection,
}
