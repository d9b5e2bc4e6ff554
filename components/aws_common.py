"""Helpers the AWS components share: the account context and customer-managed KMS keys."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    """Account, partition and region of the provider a component runs on."""

    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    dns_suffix: pulumi.Output[str]
    region: pulumi.Output[str]

    @staticmethod
    def of(parent: pulumi.Resource) -> "AwsContext":
        """Look the context up through `parent`'s provider (never a default provider)."""
        invoke = pulumi.InvokeOutputOptions(parent=parent)
        partition = aws.get_partition_output(opts=invoke)
        return AwsContext(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=partition.partition,
            dns_suffix=partition.dns_suffix,
            region=aws.get_region_output(opts=invoke).region,
        )

    def arn(self, service: str, resource: str, *, region: bool = True) -> pulumi.Output[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>` (no region for IAM-like services)."""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", self.region if region else "", ":", self.account_id, ":", resource
        )

    def role_arn(self, role: str) -> pulumi.Output[str]:
        """A role name in this account as an ARN; a full ARN passes through unchanged."""
        if role.startswith("arn:"):
            return pulumi.Output.from_input(role)
        return self.arn("iam", f"role/{role}", region=False)


def customer_key(
    name: str,
    *,
    description: str,
    policy: pulumi.Input[str],
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
    region: str | None = None,
) -> aws.kms.Key:
    """A customer-managed key `{name}-key` with rotation on, and its alias `alias/{name}`.

    Rotation yearly (CIS AWS 3.6); the longest deletion window (30 days), because a
    deleted key makes everything it encrypted unreadable. `region` places the key in
    another region than the provider's (pulumi-aws 7's per-resource region).
    """
    key = aws.kms.Key(
        f"{name}-key",
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        region=region,
        tags={**tags, "Name": f"{name}-key"},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{name}",
        target_key_id=key.key_id,
        region=region,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key


def encrypted_log_group(
    resource_name: str,
    *,
    log_group_name: str,
    retention_days: int,
    key: aws.kms.Key,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
) -> aws.cloudwatch.LogGroup:
    """A log group with a fixed name, a retention and a customer key.

    The name is fixed because the services write to a name of their own choosing
    (`/aws/eks/<cluster>/cluster`, `/aws/rds/instance/<id>/<log>`): creating the group
    first is what gives it a retention and a key instead of "never expire".
    """
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=key.arn,
        deletion_protection_enabled=protect,
        tags={**tags, "Name": resource_name},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )


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
        f"{name}-sg", vpc_id=vpc_id, description=description, tags={**tags, "Name": f"{name}-sg"},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for index, client in enumerate(clients):
        kind = "sg" if client.security_group_id is not None else "cidr"
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-{kind}-{index}",
            security_group_id=group.id,
            referenced_security_group_id=client.security_group_id,
            cidr_ipv4=client.cidr,
            ip_protocol="tcp", from_port=port, to_port=port,
            description=client.description,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return group
