"""A service's security group that admits only listed clients on one port."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ClientSource:
    """Who may open a connection: a security group or a CIDR, with the reason."""

    description: str
    security_group_id: pulumi.Input[str] | None = None
    cidr: str | None = None


def service_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    description: str,
    port: int,
    clients: list[ClientSource],
    parent: pulumi.Resource,
    tags: dict[str, str],
) -> aws.ec2.SecurityGroup:
    """Security group `{name}-sg` admitting only `clients` on one TCP port.

    Rules are separate resources (one per source, each with its description) and the
    group has no inline rules, so nothing else can widen it unnoticed. No egress rules:
    the provider removes AWS's default allow-all, and replies need none.
    """
    group = aws.ec2.SecurityGroup(
        f"{name}-sg",
        vpc_id=vpc_id,
        description=description,
        tags={**tags, "Name": f"{name}-sg"},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for index, client in enumerate(clients):
        kind = "sg" if client.security_group_id is not None else "cidr"
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-{kind}-{index}",
            security_group_id=group.id,
            referenced_security_group_id=client.security_group_id,
            cidr_ipv4=client.cidr,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=client.description,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return group
