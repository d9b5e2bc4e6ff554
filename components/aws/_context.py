"""The account context an AWS component runs in (account, partition, region), looked up
through the component's own provider."""

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
            "arn:",
            self.partition,
            ":",
            service,
            ":",
            self.region if region else "",
            ":",
            self.account_id,
            ":",
            resource,
        )

    def aws_managed_policy(self, path: str) -> pulumi.Output[str]:
        """ARN of an AWS-managed policy, e.g. `AmazonEKSClusterPolicy` or `service-role/...`."""
        return pulumi.Output.concat("arn:", self.partition, ":iam::aws:policy/", path)

    def role_arn(self, role: str) -> pulumi.Output[str]:
        """A role name in this account as an ARN; a full ARN passes through unchanged."""
        if role.startswith("arn:"):
            return pulumi.Output.from_input(role)
        return self.arn("iam", f"role/{role}", region=False)


def role_name(role: str) -> str:
    """The role name of a name or an ARN (`arn:...:role/path/name` -> `name`)."""
    return role.rsplit("/", 1)[-1]


def role_key(role: str) -> str:
    """What makes two role references the same IAM role in one account: the role name
    without case (IAM role names are unique regardless of case; a name and its ARN are one role)."""
    return role_name(role).casefold()
