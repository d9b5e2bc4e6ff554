"""CrossCloudVpn: HA VPN with BGP between the GCP VPC and the AWS VPC.

Follows Google's "Create HA VPN connections between Google Cloud and AWS": an HA VPN
gateway and a Cloud Router of its own on GCP; a virtual private gateway, two customer
gateways (one per HA VPN interface) and two Site-to-Site VPN connections on AWS; an
external VPN gateway with AWS's four outside addresses and four IKEv2 tunnels, each with
a Cloud Router interface and BGP peer, on GCP. Every cross-cloud value (addresses, inside
addresses, pre-shared keys) is read from the other side's resource outputs, never
recomputed, so a change on one side reaches the other. The tunnel layout, address rules
and IKE settings live in `components/multicloud/_tunnels.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_random as random

from components.aws._context import AwsContext
from components.aws._kms import encrypted_log_groups
from components.multicloud._tunnels import (
    aws_tunnel_options,
    customer_gateway_asn,
    plan_tunnels,
    validate_plan,
)


@dataclass
class CrossCloudVpnArgs:
    """Inputs of CrossCloudVpn. Defaults: Google's four-tunnel topology, logged, protected."""

    gcp_region: str
    """Required: region of the HA VPN gateway and its Cloud Router (the GCP subnet's region)."""
    gcp_network_id: pulumi.Input[str]
    """Required: the GCP VPC the HA VPN gateway and Cloud Router attach to."""
    aws_vpc_id: pulumi.Input[str]
    """Required: the AWS VPC the virtual private gateway attaches to."""
    aws_private_route_table_ids: pulumi.Input[list[str]]
    """Required: route tables that learn the GCP prefixes from BGP (usually one per private subnet)."""
    aws_private_route_table_keys: list[str]
    """Required: a stable key per table, in the order of `aws_private_route_table_ids` (e.g. its AZ). The ids are
    unknown until the tables exist, but the propagations must be known at preview; naming them by key, not
    position, means dropping one AZ removes only its own propagation. The ids' count is checked against the keys
    once the list resolves."""
    inside_cidrs: list[str]
    """Required: four /30s in 169.254.0.0/16: connection 0 tunnels 1-2, then connection 1 tunnels 1-2. The four
    tunnels are fixed by HA VPN's two interfaces, so their position is their identity."""
    gcp_asn: int = 64514
    """Cloud Router's private ASN. Default 64514."""
    aws_asn: int = 64512
    """The virtual private gateway's private Amazon-side ASN. Default 64512 (AWS's own default)."""
    gcp_advertised_ranges: list[str] = field(default_factory=list)
    """Advertised to AWS besides the VPC's subnets, e.g. the Cloud SQL private-services range, which lives in
    Google's peered network and is not a subnet of this VPC. Default none."""
    log_retention_days: int = 365
    """Retention of the tunnel and BGP logs in CloudWatch, in days. Default 365."""
    protect: bool = True
    """`protect` the log group and its key. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for the AWS resources (GCP labels come from the provider's default labels). Default none."""


class CrossCloudVpn(pulumi.ComponentResource):
    """Four BGP-routed IPsec tunnels between a GCP HA VPN gateway and an AWS VGW."""

    gcp_gateway_ips: pulumi.Output[list[str]]
    aws_tunnel_addresses: pulumi.Output[list[str]]
    vpn_connection_ids: pulumi.Output[list[str]]
    tunnel_names: pulumi.Output[list[str]]
    gcp_router_name: pulumi.Output[str]
    aws_vpn_gateway_id: pulumi.Output[str]

    def __init__(self, name: str, args: CrossCloudVpnArgs, opts: pulumi.ResourceOptions | None = None):
        validate_plan(name, args.inside_cidrs, args.gcp_asn, args.aws_asn)
        table_keys = args.aws_private_route_table_keys
        if not table_keys:
            raise ValueError(f"CrossCloudVpn {name}: no private route tables; AWS would never route to GCP")
        if len(set(table_keys)) != len(table_keys):
            raise ValueError(f"CrossCloudVpn {name}: route table keys must be unique, got {table_keys}")
        super().__init__("platform:multicloud:CrossCloudVpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tunnels = plan_tunnels(args.inside_cidrs)

        def tags(resource_name: str) -> dict[str, str]:
            return {**args.tags, "Name": resource_name}

        # --- GCP: gateway and router ------------------------------------------------
        gateway = gcp.compute.HaVpnGateway(
            f"{name}-gateway",
            region=args.gcp_region,
            network=args.gcp_network_id,
            description=f"HA VPN of {name} to the AWS virtual private gateway",
            opts=child,
        )
        # A router of its own, not the NAT router: its ASN and advertisements belong to
        # this BGP link. CUSTOM mode keeps the subnets and adds the extra ranges (the
        # private-services range is reachable from AWS only if it is advertised).
        router = gcp.compute.Router(
            f"{name}-router",
            region=args.gcp_region,
            network=args.gcp_network_id,
            description=f"BGP to AWS for {name}",
            bgp=gcp.compute.RouterBgpArgs(
                asn=args.gcp_asn,
                advertise_mode="CUSTOM",
                advertised_groups=["ALL_SUBNETS"],
                advertised_ip_ranges=[
                    gcp.compute.RouterBgpAdvertisedIpRangeArgs(range=cidr, description=f"{cidr} via {name}")
                    for cidr in args.gcp_advertised_ranges
                ],
            ),
            opts=child,
        )
        interface_ips = [
            gateway.vpn_interfaces.apply(lambda interfaces, i=i: _interface_ip(name, interfaces, i)) for i in (0, 1)
        ]

        # --- AWS: gateway, route propagation, customer gateways, connections ----------
        vgw = aws.ec2.VpnGateway(
            f"{name}-vgw",
            vpc_id=args.aws_vpc_id,
            amazon_side_asn=str(args.aws_asn),
            tags=tags(f"{name}-vgw"),
            opts=child,
        )
        table_ids = pulumi.Output.from_input(args.aws_private_route_table_ids).apply(
            lambda ids: _expect_count(name, ids, len(table_keys))
        )
        for index, key in enumerate(table_keys):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagation-{key}",
                vpn_gateway_id=vgw.id,
                route_table_id=table_ids.apply(lambda ids, index=index: ids[index]),
                opts=child,
            )
        customer_gateways = [
            aws.ec2.CustomerGateway(
                f"{name}-cgw-{interface}",
                type="ipsec.1",
                ip_address=ip,
                **customer_gateway_asn(args.gcp_asn),
                device_name=f"{name} HA VPN interface {interface}",
                tags=tags(f"{name}-cgw-{interface}"),
                opts=child,
            )
            for interface, ip in enumerate(interface_ips)
        ]

        # One key per tunnel. Letters only: AWS allows 8-64 of [A-Za-z0-9._] and no
        # leading '0', so an alphabet without digits or specials always qualifies. 32
        # characters is Google's recommended PSK length (~182 bits from 52 letters).
        psks = [
            random.RandomPassword(f"{name}-psk-{t.index}", length=32, special=False, numeric=False, opts=child)
            for t in tunnels
        ]

        # Tunnel and BGP logs of all four tunnels, under /aws/vendedlogs/ like the other
        # vended logs: no growth of the account's size-limited Logs resource policy.
        _, log_groups = encrypted_log_groups(
            f"{name}-logs",
            context=AwsContext.of(self),
            description=f"Encrypts the tunnel and BGP logs of {name}",
            log_groups={f"{name}-tunnel-logs": f"/aws/vendedlogs/vpn/{name}"},
            retention_days=args.log_retention_days,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        log_group_arn = log_groups[f"{name}-tunnel-logs"].arn

        connections: list[aws.ec2.VpnConnection] = []
        for connection, customer_gateway in enumerate(customer_gateways):
            options: dict[str, Any] = {}
            for tunnel in (t for t in tunnels if t.connection == connection):
                options.update(aws_tunnel_options(tunnel, psks[tunnel.index].result, log_group_arn))
            connections.append(
                aws.ec2.VpnConnection(
                    f"{name}-conn-{connection}",
                    type="ipsec.1",
                    customer_gateway_id=customer_gateway.id,
                    vpn_gateway_id=vgw.id,
                    # Dynamic routing: both clouds learn each other's prefixes over BGP.
                    static_routes_only=False,
                    tags=tags(f"{name}-conn-{connection}"),
                    opts=child,
                    **options,
                )
            )

        def from_aws(tunnel_index: int, attribute: str) -> pulumi.Output[str]:
            """`tunnelN_<attribute>` of the AWS connection carrying a planned tunnel."""
            tunnel = tunnels[tunnel_index]
            return getattr(connections[tunnel.connection], f"tunnel{tunnel.aws_tunnel}_{attribute}")

        outside_ips = [from_aws(t.index, "address") for t in tunnels]

        # --- GCP: peer gateway, tunnels, BGP sessions --------------------------------
        peer = gcp.compute.ExternalVpnGateway(
            f"{name}-aws-peer",
            redundancy_type="FOUR_IPS_REDUNDANCY",
            description=f"The two AWS Site-to-Site VPN connections of {name}",
            interfaces=[
                gcp.compute.ExternalVpnGatewayInterfaceArgs(id=t.peer_interface, ip_address=outside_ips[t.index])
                for t in tunnels
            ],
            opts=child,
        )
        gcp_tunnels: list[gcp.compute.VPNTunnel] = []
        for t in tunnels:
            cgw_inside = from_aws(t.index, "cgw_inside_address")
            tunnel = gcp.compute.VPNTunnel(
                f"{name}-tunnel-{t.index}",
                region=args.gcp_region,
                description=f"{name}: AWS connection {t.connection} tunnel {t.aws_tunnel}",
                vpn_gateway=gateway.id,
                vpn_gateway_interface=t.gcp_interface,
                peer_external_gateway=peer.id,
                peer_external_gateway_interface=t.peer_interface,
                ike_version=2,
                # The key AWS holds for this tunnel; the provider keeps both sides secret.
                shared_secret=from_aws(t.index, "preshared_key"),
                router=router.id,
                opts=child,
            )
            gcp_tunnels.append(tunnel)
            interface = gcp.compute.RouterInterface(
                f"{name}-if-{t.index}",
                router=router.name,
                region=args.gcp_region,
                ip_range=pulumi.Output.concat(cgw_inside, "/30"),
                vpn_tunnel=tunnel.name,
                opts=child,
            )
            gcp.compute.RouterPeer(
                f"{name}-peer-{t.index}",
                router=router.name,
                region=args.gcp_region,
                interface=interface.name,
                ip_address=cgw_inside,
                peer_ip_address=from_aws(t.index, "vgw_inside_address"),
                peer_asn=args.aws_asn,
                opts=child,
            )

        self.gcp_gateway_ips = pulumi.Output.all(*interface_ips)
        self.aws_tunnel_addresses = pulumi.Output.all(*outside_ips)
        self.vpn_connection_ids = pulumi.Output.all(*[c.id for c in connections])
        self.tunnel_names = pulumi.Output.all(*[t.name for t in gcp_tunnels])
        self.gcp_router_name = router.name
        self.aws_vpn_gateway_id = vgw.id
        self.register_outputs(
            {
                "gcp_gateway_ips": self.gcp_gateway_ips,
                "aws_tunnel_addresses": self.aws_tunnel_addresses,
                "vpn_connection_ids": self.vpn_connection_ids,
                "tunnel_names": self.tunnel_names,
                "gcp_router_name": self.gcp_router_name,
                "aws_vpn_gateway_id": self.aws_vpn_gateway_id,
            }
        )


def _interface_ip(name: str, interfaces: Sequence[gcp.compute.outputs.HaVpnGatewayVpnInterface], index: int) -> str:
    address = next((i.ip_address for i in interfaces if i.id == index), None)
    if not address:
        raise ValueError(f"CrossCloudVpn {name}: HA VPN gateway has no address on interface {index}")
    return address


def _expect_count(name: str, ids: list[str], count: int) -> list[str]:
    if len(ids) != count:
        raise ValueError(
            f"CrossCloudVpn {name}: {count} route table keys but {len(ids)} route table ids "
            f"arrived; some tables would not learn the GCP routes"
        )
    return ids
