"""A service's security group that admits only listed clients on one port."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ClientSource:
    """Who may open a connection: a security group or a CIDR, with the reason."""

    key: str
    """Required: a stable name for this client (`eks-nodes`, `cloudsql-replica`). It names the
    ingress rule, so adding or removing another client never renames (replaces) this one's."""
    description: str
    """Required: why this client is admitted; shown on the rule (CKV_AWS_23)."""
    security_group_id: pulumi.Input[str] | None = None
    """The client's security group. Default None; give exactly one of this and `cidr`."""
    cidr: str | None = None
    """The client's IPv4 range, in network form. Default None; give exactly one of this and
    `security_group_id`."""


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
    keys = [client.key for client in clients]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name}: client keys must be unique, got {keys}")
    for client in clients:
        if (client.security_group_id is None) == (client.cidr is None):
            raise ValueError(f"{name}: client {client.key!r} needs exactly one of security_group_id and cidr")
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-{client.key}",
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
