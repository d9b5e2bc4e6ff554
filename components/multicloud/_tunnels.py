"""The four-tunnel plan of CrossCloudVpn: layout, address and ASN rules, IKE settings.

Google's topology for AWS ("Connect HA VPN to AWS peer gateways"): two AWS Site-to-Site
VPN connections A and B, one per HA VPN interface, each with two tunnels, give four AWS
outside addresses A1, A2, B1, B2 = external-gateway interfaces 0-3. HA VPN interface 0
reaches A1 and A2, interface 1 reaches B1 and B2. Four tunnels are the minimum for the
99.99% SLA.
"""

import ipaddress
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

TUNNEL_COUNT = 4
LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")
# AWS refuses these as tunnel inside CIDRs (EC2 API, VpnTunnelOptionsSpecification.TunnelInsideCidr).
AWS_RESERVED_INSIDE_CIDRS = (
    *(ipaddress.IPv4Network(f"169.254.{octet}.0/30") for octet in range(6)),
    ipaddress.IPv4Network("169.254.169.252/30"),
)
# RFC 6996 private ASNs: what Cloud Router accepts as its own ASN, and what AWS accepts
# as a private amazon-side ASN.
PRIVATE_ASNS = (range(64512, 65535), range(4200000000, 4294967295))
# CustomerGateway.bgp_asn stops here; larger (4-byte private) ASNs go in bgp_asn_extended.
AWS_BGP_ASN_MAX = 2147483647


@dataclass(frozen=True)
class IkeProposal:
    """One transform per role, identical on every AWS tunnel.

    Google's guide: use IKEv2 and select only one Phase 1 and one Phase 2 encryption
    algorithm, integrity algorithm and DH group on the AWS side; AWS's default transform
    sets make an SA payload large enough to fragment IKE packets, which Cloud VPN does
    not reassemble, so rekeys fail. With a single proposal on AWS the negotiated suite is
    the same whichever side initiates.
    """

    encryption: str
    integrity: str
    dh_group: int


# All of these are in both lists: Cloud VPN's supported IKEv2 ciphers (AES-CBC-256,
# HMAC-SHA2-256-128 / PRF-HMAC-SHA2-256, ecp_384 = Group 20, for Phase 1 and Phase 2
# with PFS) and the AWS tunnel options. Group 20 (P-384) rather than the 2048-bit MODP
# Group 14; Cloud VPN's Phase 2 takes no SHA2-384, so SHA2-256 throughout.
PHASE1 = IkeProposal(encryption="AES256", integrity="SHA2-256", dh_group=20)
PHASE2 = IkeProposal(encryption="AES256", integrity="SHA2-256", dh_group=20)


@dataclass(frozen=True)
class TunnelPlan:
    """Where one of the four tunnels sits on each side."""

    index: int
    connection: int
    """AWS VPN connection 0 (HA VPN interface 0) or 1 (interface 1)."""
    aws_tunnel: int
    """1 or 2: the tunnel's number inside its AWS connection (`tunnel1_*`, `tunnel2_*`)."""
    inside_cidr: str

    @property
    def gcp_interface(self) -> int:
        return self.connection

    @property
    def peer_interface(self) -> int:
        """The external VPN gateway interface holding this tunnel's AWS outside address."""
        return self.index


def plan_tunnels(inside_cidrs: list[str]) -> list[TunnelPlan]:
    """Inside CIDRs in the order connection 0 tunnel 1, 0/2, 1/1, 1/2."""
    return [
        TunnelPlan(index=i, connection=i // 2, aws_tunnel=i % 2 + 1, inside_cidr=cidr)
        for i, cidr in enumerate(inside_cidrs)
    ]


def validate_plan(name: str, inside_cidrs: list[str], gcp_asn: int, aws_asn: int) -> None:
    """Raise ValueError naming the component if the tunnels could not come up as planned."""
    if len(inside_cidrs) != TUNNEL_COUNT:
        raise ValueError(
            f"CrossCloudVpn {name}: expected {TUNNEL_COUNT} inside CIDRs (one /30 per tunnel), got {len(inside_cidrs)}"
        )
    networks: list[ipaddress.IPv4Network] = []
    for cidr in inside_cidrs:
        try:
            network = ipaddress.IPv4Network(cidr)
        except ValueError as error:
            raise ValueError(f"CrossCloudVpn {name}: inside CIDR {cidr!r} is not an IPv4 network: {error}") from error
        if network.prefixlen != 30:
            raise ValueError(
                f"CrossCloudVpn {name}: inside CIDR {cidr} must be a /30 (AWS and Cloud Router "
                f"take one address each), got /{network.prefixlen}"
            )
        if not network.subnet_of(LINK_LOCAL):
            raise ValueError(f"CrossCloudVpn {name}: inside CIDR {cidr} must lie inside {LINK_LOCAL}")
        if network in AWS_RESERVED_INSIDE_CIDRS:
            raise ValueError(f"CrossCloudVpn {name}: inside CIDR {cidr} is reserved by AWS; pick another /30")
        clash = next((other for other in networks if other.overlaps(network)), None)
        if clash is not None:
            raise ValueError(
                f"CrossCloudVpn {name}: inside CIDRs {clash} and {cidr} overlap; each tunnel needs its own /30"
            )
        networks.append(network)
    for side, asn in (("gcp_asn", gcp_asn), ("aws_asn", aws_asn)):
        if not any(asn in private for private in PRIVATE_ASNS):
            raise ValueError(
                f"CrossCloudVpn {name}: {side} must be a private ASN (64512-65534 or 4200000000-4294967294), got {asn}"
            )
    if gcp_asn == aws_asn:
        raise ValueError(
            f"CrossCloudVpn {name}: gcp_asn and aws_asn must differ (the sessions are eBGP), both are {gcp_asn}"
        )


def customer_gateway_asn(asn: int) -> dict[str, str]:
    """The CustomerGateway argument that holds `asn`: 4-byte private ASNs need the extended field."""
    return {"bgp_asn": str(asn)} if asn <= AWS_BGP_ASN_MAX else {"bgp_asn_extended": str(asn)}


def aws_tunnel_options(
    tunnel: TunnelPlan, preshared_key: pulumi.Input[str], log_group_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """The `tunnelN_*` arguments of an aws.ec2.VpnConnection for one planned tunnel."""
    log_options: Any
    if tunnel.aws_tunnel == 1:
        log_options = aws.ec2.VpnConnectionTunnel1LogOptionsArgs(
            cloudwatch_log_options=aws.ec2.VpnConnectionTunnel1LogOptionsCloudwatchLogOptionsArgs(
                log_enabled=True,
                log_group_arn=log_group_arn,
                log_output_format="json",
                bgp_log_enabled=True,
                bgp_log_group_arn=log_group_arn,
                bgp_log_output_format="json",
            )
        )
    else:
        log_options = aws.ec2.VpnConnectionTunnel2LogOptionsArgs(
            cloudwatch_log_options=aws.ec2.VpnConnectionTunnel2LogOptionsCloudwatchLogOptionsArgs(
                log_enabled=True,
                log_group_arn=log_group_arn,
                log_output_format="json",
                bgp_log_enabled=True,
                bgp_log_group_arn=log_group_arn,
                bgp_log_output_format="json",
            )
        )
    options: dict[str, Any] = {
        "inside_cidr": tunnel.inside_cidr,
        "preshared_key": preshared_key,
        # IKEv1 off: Cloud VPN's IKEv1 is AES-128/SHA-1/Group 2 only, and Google's AWS
        # guide requires IKEv2.
        "ike_versions": ["ikev2"],
        "phase1_encryption_algorithms": [PHASE1.encryption],
        "phase1_integrity_algorithms": [PHASE1.integrity],
        "phase1_dh_group_numbers": [PHASE1.dh_group],
        "phase2_encryption_algorithms": [PHASE2.encryption],
        "phase2_integrity_algorithms": [PHASE2.integrity],
        "phase2_dh_group_numbers": [PHASE2.dh_group],
        # AWS, not only Cloud VPN, starts IKE (IKEv2 only; it knows the HA VPN address
        # from the customer gateway), and restarts it after a dead-peer timeout instead
        # of leaving the tunnel down with its BGP routes withdrawn until Google retries.
        "startup_action": "start",
        "dpd_timeout_action": "restart",
        "log_options": log_options,
    }
    return {f"tunnel{tunnel.aws_tunnel}_{key}": value for key, value in options.items()}
