"""Customer-managed KMS keys, and the CloudWatch log groups such a key encrypts."""

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws._iam_documents import Document, account_key_policy, logs_key_statement


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
        name,
        context=context,
        description=description,
        parent=parent,
        protect=protect,
        tags=tags,
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
