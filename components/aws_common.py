"""Helpers the AWS components share: the account context and customer-managed KMS keys."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_policies import Document, account_key_policy, logs_key_statement


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

    def aws_managed_policy(self, path: str) -> pulumi.Output[str]:
        """ARN of an AWS-managed policy, e.g. `AmazonEKSClusterPolicy` or `service-role/...`."""
        return pulumi.Output.concat("arn:", self.partition, ":iam::aws:policy/", path)

    def role_arn(self, role: str) -> pulumi.Output[str]:
        """A role name in this account as an ARN; a full ARN passes through unchanged."""
        if role.startswith("arn:"):
            return pulumi.Output.from_input(role)
        return self.arn("iam", f"role/{role}", region=False)


def customer_key(
    name: str,
    *,
    context: AwsContext,
    description: str,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
    extra_statements: tuple[Document, ...] = (),
    region: str | None = None,
) -> aws.kms.Key:
    """A customer-managed key `{name}-key` with rotation on, and its alias `alias/{name}`.

    Its policy lets the account's IAM policies administer and use it (services such as
    RDS or ECR use it through grants made with the caller's rights), plus
    `extra_statements`. Rotation yearly (CIS AWS 3.6); the longest deletion window (30
    days), because a deleted key makes everything it encrypted unreadable. `region`
    places the key in another region than the provider's (pulumi-aws 7's per-resource
    region).
    """
    policy = account_key_policy(context.partition, context.account_id, *extra_statements)
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


def encrypted_log_groups(
    name: str,
    *,
    context: AwsContext,
    description: str,
    log_groups: dict[str, str],
    retention_days: int,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
) -> tuple[aws.kms.Key, dict[str, aws.cloudwatch.LogGroup]]:
    """A customer key `{name}-key` and the log groups it encrypts (resource name -> group name).

    The names are fixed because the services write to names of their own choosing
    (`/aws/eks/<cluster>/cluster`, `/aws/rds/instance/<id>/<log>`), and because the key
    policy must name the groups before they exist. Creating the groups first is what
    gives them a retention and a key instead of "never expire". The key's policy lets
    CloudWatch Logs use it for these groups only; callers may use the key for their
    other data too.
    """
    group_arns = [context.arn("logs", f"log-group:{group}") for group in log_groups.values()]
    key = customer_key(
        name, context=context, description=description, parent=parent, protect=protect, tags=tags,
        extra_statements=(logs_key_statement(context.region, context.dns_suffix, group_arns),),
    )
    groups = {
        resource_name: aws.cloudwatch.LogGroup(
            resource_name,
            name=group,
            retention_in_days=retention_days,
            kms_key_id=key.arn,
            deletion_protection_enabled=protect,
            tags={**tags, "Name": resource_name},
            opts=pulumi.ResourceOptions(parent=parent, protect=protect),
        )
        for resource_name, group in log_groups.items()
    }
    return key, groups


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
