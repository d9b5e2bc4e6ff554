"""IAM and KMS policy documents shared by the AWS components.

Built as plain JSON (via `Output.json_dumps`) rather than with the
`get_policy_document` invoke, so they need no provider call and read like the policies
in the AWS documentation they follow.
"""

import pulumi

Document = dict[str, object]


def _policy(*statements: Document) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def account_root_admin(partition: pulumi.Input[str], account_id: pulumi.Input[str]) -> Document:
    """Key policy statement that hands key administration to the account's IAM policies.

    Without it, nobody but the key policy itself could ever manage the key.
    """
    return {
        "Sid": "AccountIamAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")},
        "Action": "kms:*",
        "Resource": "*",
    }


def flow_logs_key_policy(
    partition: pulumi.Input[str],
    dns_suffix: pulumi.Input[str],
    region: pulumi.Input[str],
    account_id: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
) -> pulumi.Output[str]:
    """Key policy letting CloudWatch Logs use the key for exactly one log group.

    CloudWatch Logs encrypts with the caller's key only if the key policy allows the
    regional logs service principal; the encryption-context condition pins it to the
    flow-log group (AWS: "Encrypt log data in CloudWatch Logs using AWS KMS").
    """
    return _policy(
        account_root_admin(partition, account_id),
        {
            "Sid": "CloudWatchLogsUseForFlowLogGroup",
            "Effect": "Allow",
            "Principal": {"Service": pulumi.Output.concat("logs.", region, ".", dns_suffix)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
        },
    )


def flow_logs_trust_policy(
    partition: pulumi.Input[str], region: pulumi.Input[str], account_id: pulumi.Input[str]
) -> pulumi.Output[str]:
    """Trust policy for the flow-log delivery role, guarded against the confused deputy."""
    return _policy({
        "Effect": "Allow",
        "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {
                "aws:SourceArn": pulumi.Output.concat(
                    "arn:", partition, ":ec2:", region, ":", account_id, ":vpc-flow-log/*"
                )
            },
        },
    })


def flow_logs_role_policy(
    partition: pulumi.Input[str],
    region: pulumi.Input[str],
    account_id: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
) -> pulumi.Output[str]:
    """Least privilege for flow-log delivery: write the streams of one log group only."""
    return _policy(
        {
            "Sid": "WriteFlowLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            # The provider strips the API's ":*" suffix; add it back to cover the streams.
            "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        },
        {
            # A list call with no per-group resource: scoped to this account and region.
            "Sid": "FindLogGroup",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": pulumi.Output.concat("arn:", partition, ":logs:", region, ":", account_id, ":log-group:*"),
        },
    )
