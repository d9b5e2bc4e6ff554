"""The AWS Load Balancer Controller's IAM policy, as our own typed document.

The facts follow the controller's documented policy for v3.5.0
(kubernetes-sigs/aws-load-balancer-controller, docs/install/iam_policy.json at tag v3.5.0):
the same actions, tightened where the API allows it:

- every resource ARN is pinned to this account and region (upstream: `arn:aws:*:*:...` or `*`);
- the `elbv2.k8s.aws/cluster` tag conditions ask for this cluster's name, not just any
  value (upstream: `Null` = false), so two clusters in one account cannot touch each
  other's load balancers and security groups. The controller stamps that tag with its
  `--cluster-name` on everything it creates;
- new security groups only in this cluster's VPC, and ingress rules only on security
  groups in that VPC (`ec2:Vpc`);
- no WAF Classic (`waf-regional:*`): the chart runs with `enableWaf: false`, since AWS
  retired WAF Classic; WAFv2 stays.

Describe and list calls keep `*`: those APIs have no resource-level permissions.
"""

import pulumi

from components.aws._context import AwsContext
from components.aws._iam_documents import Document, policy_document

CLUSTER_TAG = "elbv2.k8s.aws/cluster"
"""The tag the controller puts on every load balancer, target group and security group it creates."""

DESCRIBE_ACTIONS = [
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:GetCoipPoolUsage",
    "ec2:DescribeCoipPools",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:DescribeIpamPools",
    "ec2:DescribeRouteTables",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeCapacityReservation",
]
# Certificates for HTTPS listeners (ACM, IAM server certificates), Cognito authentication,
# WAFv2 web ACLs and Shield Advanced protection on the load balancers.
INTEGRATION_ACTIONS = [
    "cognito-idp:DescribeUserPoolClient",
    "acm:ListCertificates",
    "acm:DescribeCertificate",
    "iam:ListServerCertificates",
    "iam:GetServerCertificate",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "shield:GetSubscriptionState",
    "shield:DescribeProtection",
    "shield:CreateProtection",
    "shield:DeleteProtection",
]
MODIFY_OWN_LOAD_BALANCER_ACTIONS = [
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
]
LISTENER_ACTIONS = [
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:SetWebAcl",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
]


def load_balancer_controller_policy(
    context: AwsContext, cluster_name: str, vpc_id: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The controller's permissions for one cluster (`cluster_name`) in one VPC (`vpc_id`)."""

    def ec2(resource: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:", context.partition, ":ec2:", context.region, ":", context.account_id, ":", resource
        )

    def elb(resource: str) -> pulumi.Output[str]:
        return context.arn("elasticloadbalancing", resource)

    security_groups = ec2("security-group/*")
    vpc = ec2(pulumi.Output.concat("vpc/", vpc_id))
    load_balancers_and_target_groups = [
        elb("targetgroup/*/*"),
        elb("loadbalancer/net/*/*"),
        elb("loadbalancer/app/*/*"),
    ]
    owned = {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}
    created_as_owned = {f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}
    # Re-tagging an owned resource may not touch the ownership tag itself.
    keeps_ownership_tag = {f"aws:RequestTag/{CLUSTER_TAG}": "true"}

    statements: list[Document] = [
        {
            # The first load balancer of an account needs ELB's service-linked role.
            "Sid": "CreateElbServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": pulumi.Output.concat(
                "arn:",
                context.partition,
                ":iam::",
                context.account_id,
                ":role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            ),
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {"Sid": "Describe", "Effect": "Allow", "Action": DESCRIBE_ACTIONS, "Resource": "*"},
        {"Sid": "ListenerIntegrations", "Effect": "Allow", "Action": INTEGRATION_ACTIONS, "Resource": "*"},
        {
            # Rules on the nodes' and pods' security groups for the load balancers' traffic,
            # in this cluster's VPC only.
            "Sid": "IngressRulesInClusterVpc",
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": security_groups,
            "Condition": {"ArnEquals": {"ec2:Vpc": vpc}},
        },
        {
            # CreateSecurityGroup is authorized on the VPC and on the new group: the VPC
            # here, the group (which must carry this cluster's tag) below.
            "Sid": "CreateSecurityGroupInClusterVpc",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": vpc,
        },
        {
            "Sid": "CreateOwnedSecurityGroup",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": security_groups,
            "Condition": {"StringEquals": created_as_owned},
        },
        {
            "Sid": "TagSecurityGroupOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": security_groups,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **created_as_owned}},
        },
        {
            "Sid": "RetagOwnedSecurityGroups",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": security_groups,
            "Condition": {"Null": keeps_ownership_tag, "StringEquals": owned},
        },
        {
            "Sid": "ManageOwnedSecurityGroups",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "Resource": security_groups,
            "Condition": {"StringEquals": owned},
        },
        {
            "Sid": "CreateOwnedLoadBalancers",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            "Resource": load_balancers_and_target_groups,
            "Condition": {"StringEquals": created_as_owned},
        },
        {
            "Sid": "TagLoadBalancersOnCreate",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": load_balancers_and_target_groups,
            "Condition": {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"],
                    **created_as_owned,
                }
            },
        },
        {
            "Sid": "RetagOwnedLoadBalancers",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": load_balancers_and_target_groups,
            "Condition": {"Null": keeps_ownership_tag, "StringEquals": owned},
        },
        {
            "Sid": "ModifyOwnedLoadBalancers",
            "Effect": "Allow",
            "Action": MODIFY_OWN_LOAD_BALANCER_ACTIONS,
            "Resource": elb("*"),
            "Condition": {"StringEquals": owned},
        },
        {
            # Listeners and rules carry no ownership tag of their own (upstream grants these
            # on `*`); here they are limited to this account and region.
            "Sid": "ListenersAndRules",
            "Effect": "Allow",
            "Action": LISTENER_ACTIONS,
            "Resource": elb("*"),
        },
        {
            "Sid": "TagListenersAndRules",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [
                elb("listener/net/*/*/*"),
                elb("listener/app/*/*/*"),
                elb("listener-rule/net/*/*/*"),
                elb("listener-rule/app/*/*/*"),
            ],
        },
        {
            # Pods (and TargetGroupBindings) in and out of target groups.
            "Sid": "RegisterTargets",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": elb("targetgroup/*/*"),
        },
    ]
    return policy_document(*statements)
