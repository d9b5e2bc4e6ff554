"""VpcFlowLogs: all of a VPC's traffic into a KMS-encrypted CloudWatch log group.

CIS AWS Foundations 3.7 (flow logging in every VPC). The log group's key is a customer
key with rotation on, whose policy lets CloudWatch Logs use it for this group only; the
delivery role may write this group's streams and nothing else.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws._context import AwsContext
from components.aws._iam_documents import flow_logs_role_policy, flow_logs_trust_policy
from components.aws._kms import encrypted_log_groups


@dataclass
class VpcFlowLogsArgs:
    """Inputs of VpcFlowLogs. Defaults favour forensics and protection."""

    vpc_id: pulumi.Input[str]
    """Required: the VPC whose traffic is logged."""
    retention_days: int = 365
    """CloudWatch retention of the flow logs, in days. Default 365: a year for incident forensics."""
    protect: bool = True
    """`protect` the log group and its key, and turn on the group's deletion protection. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class VpcFlowLogs(pulumi.ComponentResource):
    """Flow log, encrypted log group, its KMS key and a least-privilege delivery role."""

    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: VpcFlowLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aws:VpcFlowLogs", name, None, opts)
        aws_context = AwsContext.of(self)
        partition, region, account_id = aws_context.partition, aws_context.region, aws_context.account_id

        def tags(resource_name: str) -> dict[str, str]:
            return {**args.tags, "Name": resource_name}

        key, groups = encrypted_log_groups(
            name,
            context=aws_context,
            description=f"Encrypts the VPC flow logs of {name}",
            log_groups={f"{name}-group": f"/aws/vpc-flow-logs/{name}"},
            retention_days=args.retention_days,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        log_group = groups[f"{name}-group"]
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Lets VPC Flow Logs deliver {name}",
            assume_role_policy=flow_logs_trust_policy(partition, region, account_id),
            tags=tags(f"{name}-role"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        write_policy = aws.iam.RolePolicy(
            f"{name}-write",
            role=role.id,
            policy=flow_logs_role_policy(partition, region, account_id, log_group.arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.FlowLog(
            f"{name}-vpc",
            vpc_id=args.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            # 1-minute aggregation: rejected connections show up while an incident is live.
            max_aggregation_interval=60,
            tags=tags(f"{name}-vpc"),
            # Without the write policy in place, delivery starts with "Access error".
            opts=pulumi.ResourceOptions(parent=self, depends_on=[write_policy]),
        )

        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn
        self.key_arn = key.arn
        self.register_outputs(
            {
                "log_group_name": self.log_group_name,
                "log_group_arn": self.log_group_arn,
                "key_arn": self.key_arn,
            }
        )
