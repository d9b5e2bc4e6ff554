"""Network controls for AWS security groups: nothing open to the internet except HTTP(S)
on the ingress load balancer, the default group closed, every rule described."""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import ANYWHERE, PUBLIC_INGRESS_SETTINGS, Config, ResourceControl, as_list, checkov, cis_aws, get

FAMILY = "aws-network"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ALL_PROTOCOLS = ("-1", "all")


def _ingress_rules(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every ingress rule a resource declares, normalised to cidrs/fromPort/toPort/protocol."""
    if resource_type == SECURITY_GROUP:
        return [
            {
                "cidrs": as_list(r.get("cidrBlocks")) + as_list(r.get("ipv6CidrBlocks")),
                "fromPort": r.get("fromPort"),
                "toPort": r.get("toPort"),
                "protocol": r.get("protocol"),
            }
            for r in as_list(get(props, "ingress"))
        ]
    if resource_type == SECURITY_GROUP_RULE:
        if get(props, "type") != "ingress":
            return []
        return [
            {
                "cidrs": as_list(get(props, "cidrBlocks")) + as_list(get(props, "ipv6CidrBlocks")),
                "fromPort": get(props, "fromPort"),
                "toPort": get(props, "toPort"),
                "protocol": get(props, "protocol"),
            }
        ]
    return [
        {
            "cidrs": [c for c in (get(props, "cidrIpv4"), get(props, "cidrIpv6")) if c],
            "fromPort": get(props, "fromPort"),
            "toPort": get(props, "toPort"),
            "protocol": get(props, "ipProtocol"),
        }
    ]


def _protocol(rule: Mapping[str, Any]) -> str:
    """ "tcp", "icmp", or "-1" for all; the engine may hand a numeric -1 over as -1.0."""
    protocol = rule["protocol"]
    return str(int(protocol)) if isinstance(protocol, float) else str(protocol).lower()


def _port_range(rule: Mapping[str, Any]) -> tuple[int, int] | None:
    """The rule's ports, or None when it covers every port (all protocols, or -1/absent ports)."""
    if _protocol(rule) in ALL_PROTOCOLS or rule["fromPort"] is None or int(rule["fromPort"]) < 0:
        return None
    return int(rule["fromPort"]), int(rule["toPort"] if rule["toPort"] is not None else rule["fromPort"])


def _opens_only(rule: Mapping[str, Any], allowed: list[int]) -> bool:
    ports = _port_range(rule)
    allowed_ports = {int(port) for port in allowed}  # the engine hands settings over as floats
    return ports is not None and all(port in allowed_ports for port in range(ports[0], ports[1] + 1))


def _no_public_ingress(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    is_ingress_lb = re.search(config["ingressLoadBalancerPattern"], args.name) is not None
    for rule in _ingress_rules(args.resource_type, args.props):
        if not any(cidr in ANYWHERE for cidr in rule["cidrs"]):
            continue
        if is_ingress_lb and _opens_only(rule, config["allowedPublicPorts"]):
            continue
        ports = _port_range(rule)
        shown = f"{_protocol(rule)} ports {ports[0]}-{ports[1]}" if ports else f"{_protocol(rule)}, all ports"
        yield f"ingress from the internet ({shown})"


def _rules_described(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if args.resource_type == SECURITY_GROUP:
        if not get(args.props, "description"):
            yield "the security group has no description"
        for direction in ("ingress", "egress"):
            for index, rule in enumerate(as_list(get(args.props, direction))):
                if not rule.get("description"):
                    yield f"{direction}[{index}] has no description"
    elif not get(args.props, "description"):
        yield "the rule has no description"


def _default_group_closed(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    # Adopting the default group with no rules strips AWS's allow-all-within-the-group rules.
    for direction in ("ingress", "egress"):
        if as_list(get(args.props, direction)):
            yield f"the VPC's default security group still has {direction} rules"


POLICIES = [
    ResourceControl(
        name="security-group-no-public-ingress",
        description="No security group admits 0.0.0.0/0 or ::/0, except HTTP(S) on the ingress load balancer.",
        severity=Severity.CRITICAL,
        framework=cis_aws("5.2, 5.3"),
        family=FAMILY,
        resource_types=[SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE],
        when_absent="secure: a rule without a CIDR admits no internet source",
        remediation="admit a referenced security group or private CIDR; only the ingress load balancer may open "
        "80/443 to the internet",
        settings=PUBLIC_INGRESS_SETTINGS,
        check=_no_public_ingress,
    ),
    ResourceControl(
        name="security-group-rule-descriptions",
        description="Every security group and rule says why it exists.",
        severity=Severity.LOW,
        framework=checkov("CKV_AWS_23"),
        family=FAMILY,
        resource_types=[SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE],
        when_absent="insecure for this control: an absent description is the finding",
        remediation="set description on the group and on each rule",
        check=_rules_described,
    ),
    ResourceControl(
        name="default-security-group-closed",
        description="Each VPC's default security group has no rules, so nothing uses it by accident.",
        severity=Severity.HIGH,
        framework=cis_aws("5.4"),
        family=FAMILY,
        resource_types=[DEFAULT_SECURITY_GROUP],
        when_absent="secure: adopting the default group with no ingress or egress removes AWS's default rules; "
        "a VPC that never adopts it is caught by vpc-default-security-group-adopted",
        remediation="adopt the default group with aws.ec2.DefaultSecurityGroup and ingress=[] egress=[]",
        check=_default_group_closed,
    ),
]
