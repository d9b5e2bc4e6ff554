"""IAM and KMS policy documents shared by the AWS components.

Built as plain JSON (via `Output.json_dumps`) rather than with the
`get_policy_document` invoke, so they need no provider call and read like the policies
in the AWS documentation they follow.
"""

import json
from collections.abc import Sequence

import pulumi

Document = dict[str, object]


def policy_document(*statements: Document) -> pulumi.Output[str]:
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


def account_key_policy(
    partition: pulumi.Input[str], account_id: pulumi.Input[str], *extra: Document
) -> pulumi.Output[str]:
    """Key policy: the account's IAM policies administer and use the key, plus `extra`.

    Services that use a key on a caller's behalf (RDS, ElastiCache, ECR, S3, Secrets
    Manager, EBS) do so through grants made with the caller's IAM permissions, so they
    need no statement of their own.
    """
    return policy_document(account_root_admin(partition, account_id), *extra)


def logs_key_statement(
    region: pulumi.Input[str], dns_suffix: pulumi.Input[str], log_group_arns: Sequence[pulumi.Input[str]]
) -> Document:
    """Key policy statement letting CloudWatch Logs use the key for the given groups only.

    CloudWatch Logs encrypts with a customer key only if the key policy allows the
    regional logs service principal; the encryption-context condition pins it to these
    log groups (AWS: "Encrypt log data in CloudWatch Logs using AWS KMS").
    """
    return {
        "Sid": "CloudWatchLogsUseForTheseLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": pulumi.Output.concat("logs.", region, ".", dns_suffix)},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": list(log_group_arns)}},
    }


def service_trust_policy(service: str, source_account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust policy for an AWS service principal, optionally guarded by the source account."""
    statement: Document = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return policy_document(statement)


def irsa_trust_policy(
    oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust policy for IAM Roles for Service Accounts: one service account, STS audience.

    Both `sub` and `aud` are pinned (EKS docs), so no other pod and no other audience can
    exchange its token for this role.
    """
    issuer_host = pulumi.Output.from_input(oidc_issuer).apply(lambda url: url.removeprefix("https://"))
    return pulumi.Output.all(oidc_provider_arn, issuer_host).apply(
        lambda values: _document(
            {
                "Effect": "Allow",
                "Principal": {"Federated": values[0]},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{values[1]}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{values[1]}:aud": "sts.amazonaws.com",
                    }
                },
            }
        )
    )


def key_use_policy(key_arn: pulumi.Input[str], actions: list[str]) -> pulumi.Output[str]:
    """Identity policy allowing `actions` on one KMS key."""
    return policy_document({"Sid": "UseKey", "Effect": "Allow", "Action": actions, "Resource": key_arn})


def secrets_reader_policy(
    secret_arns: Sequence[pulumi.Input[str]],
    key_arns: Sequence[pulumi.Input[str]],
    secrets_manager_host: pulumi.Input[str],
    label: str = "Platform",
) -> pulumi.Output[str]:
    """Identity policy reading only the named Secrets Manager secrets (ARNs or ARN patterns).

    `kms:Decrypt` only on `key_arns`, and only when Secrets Manager asks on the caller's
    behalf (`kms:ViaService`): the role cannot decrypt anything else with those keys.
    Secrets under the AWS-managed `aws/secretsmanager` key need no KMS statement. `label`
    names whose secrets they are in the statement ids (`Read<label>Secrets`).
    """
    statements: list[Document] = [
        {
            "Sid": f"Read{label}Secrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": list(secret_arns),
        }
    ]
    if key_arns:
        statements.append(
            {
                "Sid": f"Decrypt{label}Secrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": list(key_arns),
                "Condition": {"StringEquals": {"kms:ViaService": secrets_manager_host}},
            }
        )
    return policy_document(*statements)


def _document(*statements: Document) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def flow_logs_trust_policy(
    partition: pulumi.Input[str], region: pulumi.Input[str], account_id: pulumi.Input[str]
) -> pulumi.Output[str]:
    """Trust policy for the flow-log delivery role, guarded against the confused deputy."""
    return policy_document(
        {
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
        }
    )


def flow_logs_role_policy(
    partition: pulumi.Input[str],
    region: pulumi.Input[str],
    account_id: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
) -> pulumi.Output[str]:
    """Least privilege for flow-log delivery: write the streams of one log group only."""
    return policy_document(
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
