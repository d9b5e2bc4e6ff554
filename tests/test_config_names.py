"""The name-length budget: the longest prefix the config allows fits every service's limit.

The stack is synthesized with a `<platform:name>-<stack>` of exactly MAX_PREFIX_LENGTH, and
every registration's physical name is measured against its service's limit: the name input
where the component sets one, else the Pulumi resource name plus the 8 characters Pulumi's
auto-naming appends. One character more is refused by the config, at `platform:name`.
"""

from typing import Any

import pytest

from stacks.config.loader import ConfigError
from stacks.config.names import AUTO_NAME_SUFFIX, MAX_PREFIX_LENGTH, NAME_RULES, prefix_problems
from tests.conftest import assert_rejected_before_any_resource
from tests.test_config import parse
from tools.synth import Registration, synth

# type token -> (the input holding its physical name, the service's length limit). When the
# input is absent the resource is auto-named from its Pulumi name. Limits from each service's
# API reference.
NAME_LIMITS: dict[str, tuple[str, int]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("name", 512),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", 128),
    "aws:ec2/securityGroup:SecurityGroup": ("name", 255),
    "aws:ecr/repository:Repository": ("name", 256),
    "aws:eks/cluster:Cluster": ("name", 100),
    "aws:eks/nodeGroup:NodeGroup": ("nodeGroupName", 63),
    "aws:elasticache/parameterGroup:ParameterGroup": ("name", 255),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", 40),
    "aws:elasticache/subnetGroup:SubnetGroup": ("name", 255),
    "aws:iam/role:Role": ("name", 64),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128),
    "aws:kms/alias:Alias": ("name", 256),
    "aws:rds/instance:Instance": ("identifier", 63),
    "aws:rds/parameterGroup:ParameterGroup": ("name", 255),
    "aws:rds/subnetGroup:SubnetGroup": ("name", 255),
    # Terraform's bucket_prefix: at most 37, the bucket adds 26 characters (S3's 63).
    "aws:s3/bucket:Bucket": ("bucketPrefix", 37),
    "aws:secretsmanager/secret:Secret": ("name", 512),
    "cloudflare:index/dnsRecord:DnsRecord": ("name", 253),
    "cloudflare:index/loadBalancer:LoadBalancer": ("name", 253),
    "gcp:artifactregistry/repository:Repository": ("repositoryId", 63),
    "gcp:compute/address:Address": ("name", 63),
    "gcp:compute/externalVpnGateway:ExternalVpnGateway": ("name", 63),
    "gcp:compute/firewall:Firewall": ("name", 63),
    "gcp:compute/globalAddress:GlobalAddress": ("name", 63),
    "gcp:compute/haVpnGateway:HaVpnGateway": ("name", 63),
    "gcp:compute/network:Network": ("name", 63),
    "gcp:compute/router:Router": ("name", 63),
    "gcp:compute/routerInterface:RouterInterface": ("name", 63),
    "gcp:compute/routerNat:RouterNat": ("name", 63),
    "gcp:compute/routerPeer:RouterPeer": ("name", 63),
    "gcp:compute/subnetwork:Subnetwork": ("name", 63),
    "gcp:compute/vPNTunnel:VPNTunnel": ("name", 63),
    "gcp:container/cluster:Cluster": ("name", 40),
    "gcp:container/nodePool:NodePool": ("name", 40),
    "gcp:kms/cryptoKey:CryptoKey": ("name", 63),
    "gcp:kms/keyRing:KeyRing": ("name", 63),
    "gcp:secretmanager/secret:Secret": ("secretId", 255),
    "gcp:serviceaccount/account:Account": ("accountId", 30),
    # Cloud SQL: `<project>:<instance>` at most 98 (the project's share is subtracted below).
    "gcp:sql/databaseInstance:DatabaseInstance": ("name", 98),
    "gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance": ("name", 98),
}
# Resources without a length-limited name of their own (attachments, rules, settings,
# routes: AWS identifies them by generated ids; Cloudflare pool, policy and ruleset names
# have no documented limit).
UNNAMED = {
    "aws:ec2/customerGateway:CustomerGateway",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/vpnConnection:VpnConnection",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/key:Key",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor",
    "cloudflare:index/loadBalancerPool:LoadBalancerPool",
    "cloudflare:index/notificationPolicy:NotificationPolicy",
    "cloudflare:index/ruleset:Ruleset",
    "cloudflare:index/zoneSetting:ZoneSetting",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "gcp:servicenetworking/connection:Connection",
    "random:index/randomId:RandomId",
    # The base image's builds name an image, not a resource: the ECR repository's URL or the
    # Artifact Registry repository's (both checked as those resources) and a content tag.
    "docker:index/image:Image",
    "random:index/randomPassword:RandomPassword",
    # Kubernetes objects take fixed names or namespace names from config (DNS labels,
    # checked there), never the prefix.
    "kubernetes:core/v1:Namespace",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget",
    # A binding on a service account has no name of its own (account, role, member).
    "gcp:serviceaccount/iAMMember:IAMMember",
    # Custom resources with fixed names (letsencrypt-production, platform-secrets,
    # cloudflare-api-token), never the prefix.
    "kubernetes:cert-manager.io/v1:ClusterIssuer",
    "kubernetes:external-secrets.io/v1:ClusterSecretStore",
    "kubernetes:external-secrets.io/v1:ExternalSecret",
    # The mesh's and the gateway's objects: fixed names (default, public, public-gateway-tls,
    # default-deny) or the hostname's labels (DNS names, checked in config).
    "kubernetes:cert-manager.io/v1:Certificate",
    "kubernetes:networking.istio.io/v1:Gateway",
    "kubernetes:networking.istio.io/v1:VirtualService",
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    # The workloads' objects take the workload's key from config (a DNS label, checked there).
    "kubernetes:networking.istio.io/v1:DestinationRule",
    "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler",
    "kubernetes:argoproj.io/v1alpha1:Rollout",
    "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate",
    # Monitoring and logging: fixed names (encrypted, prometheus-internal, dashboard-<file>,
    # document-alerts, logs, log-writer-user, ...), never the prefix; the lifecycle Job and
    # its ConfigMap are auto-named by Kubernetes' rules, not ours.
    "kubernetes:storage.k8s.io/v1:StorageClass",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch",
    "kubernetes:kibana.k8s.elastic.co/v1:Kibana",
    "kubernetes:external-secrets.io/v1:SecretStore",
    "kubernetes:generators.external-secrets.io/v1alpha1:Password",
    "kubernetes:batch/v1:Job",
    # DatabaseBackups' fixed names (postgres-dump, postgres-restore-drill), never the prefix: well
    # within a CronJob's 52 characters (its Jobs add an 11-character suffix).
    "kubernetes:batch/v1:CronJob",
}
# 15 + "-prod": the longest prefix the config allows, with the prod stack's name.
LONGEST_NAME = "heal7-workloads"
AWS_TAG_VALUE_MAX = 256


def _physical_name(registration: Registration, name_input: str) -> str:
    """The name the cloud will see: the set input, or Pulumi's auto-name of the resource."""
    value = registration.inputs.get(name_input)
    if isinstance(value, str):
        return value
    return registration.name + "-" + "x" * (AUTO_NAME_SUFFIX - 1)


def _names_over_limit(resources: list[Registration], project: str) -> tuple[list[str], list[int]]:
    over, slack = [], []
    for registration in resources:
        if not registration.custom or registration.type.startswith("pulumi:providers:"):
            continue
        if registration.type in UNNAMED:
            continue
        assert registration.type in NAME_LIMITS, f"add {registration.type} to NAME_LIMITS or UNNAMED"
        name_input, limit = NAME_LIMITS[registration.type]
        if registration.type.startswith("gcp:sql/"):
            limit -= len(project) + 1
        name = _physical_name(registration, name_input)
        snapshot = registration.inputs.get("finalSnapshotIdentifier")
        checks = [(name, limit)]
        if registration.type == "aws:rds/instance:Instance" and isinstance(snapshot, str):
            checks.append((snapshot, 255))  # RDS snapshot identifiers
        tag_name = (registration.inputs.get("tags") or {}).get("Name")
        if isinstance(tag_name, str):
            checks.append((tag_name, AWS_TAG_VALUE_MAX))
        for value, most in checks:
            slack.append(most - len(value))
            if len(value) > most:
                over.append(f"{registration.type} {value!r}: {len(value)} > {most}")
    return over, slack


@pytest.fixture
def longest_prefix_stack(stack_config) -> dict[str, Any]:
    config = stack_config("prod")
    config["platform:name"] = LONGEST_NAME
    return config


def test_the_redis_group_id_sets_the_budget():
    # 40 (ElastiCache) - len("-redis-group") - 8 (auto-name suffix)
    assert MAX_PREFIX_LENGTH == 20
    binding = [rule for rule in NAME_RULES if rule.max_prefix() == MAX_PREFIX_LENGTH]
    assert [rule.service for rule in binding] == ["ElastiCache replication group id"]
    assert len(f"{LONGEST_NAME}-prod") == MAX_PREFIX_LENGTH


def test_every_name_of_the_longest_allowed_prefix_fits_its_service(longest_prefix_stack):
    result = synth("prod", longest_prefix_stack)
    project = longest_prefix_stack["gcp:project"]
    over, slack = _names_over_limit(result.resources, project)
    assert over == []
    # The budget is tight: some name sits exactly at its limit.
    assert min(slack) == 0
    group = result.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert len(_physical_name(group, "replicationGroupId")) == 40


def test_one_character_more_is_refused_at_platform_name(longest_prefix_stack):
    config = dict(longest_prefix_stack, **{"platform:name": LONGEST_NAME + "x"})
    assert_rejected_before_any_resource(
        "prod",
        config,
        "platform:name: expected platform:name and the stack name together ('<name>-<stack>') in at most 20 "
        "characters (the ElastiCache replication group id 'heal7-workloadsx-prod-redis-group-xxxxxxx' may have 40)",
    )


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("Prod", "platform:name: expected platform:name and the stack name to form a lowercase name"),
        ("prod_2", "platform:name: expected platform:name and the stack name to form a lowercase name"),
        ("prod--eu", "platform:name: expected platform:name and the stack name to form a lowercase name"),
        ("production-east", "platform:name: expected platform:name and the stack name together"),
    ],
)
def test_stack_names_that_would_break_resource_names_are_refused(stack, expected):
    problems = prefix_problems("heal7", stack)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_long_stack_name_is_refused_by_the_loader(stack_config):
    with pytest.raises(ConfigError) as caught:
        parse("production-seoul-1", stack_config("prod"))
    assert caught.value.problems == [
        "platform:name: expected platform:name and the stack name together ('<name>-<stack>') in at most 20 "
        "characters (the ElastiCache replication group id 'heal7-production-seoul-1-redis-group-xxxxxxx' may have 40; "
        "the IAM role name 'heal7-production-seoul-1-eks-workload-addons-ebs-csi-role-xxxxxxx' may have 64), "
        "got 'heal7-production-seoul-1' (24 characters)"
    ]
    assert str(caught.value).splitlines()[1].strip().startswith("Pulumi.production-seoul-1.yaml: platform:name:")


def test_the_artifact_registry_id_is_checked_with_the_prefix(stack_config):
    config = stack_config("prod")
    config["platform:gcp"]["artifactRegistry"] = {"repositoryId": "a" * 53}  # 10 + 1 + 53 = 64
    with pytest.raises(ConfigError) as caught:
        parse("prod", config)
    assert caught.value.problems == [
        "platform:gcp.artifactRegistry.repositoryId: expected the Artifact Registry repository id "
        f"('<name>-<stack>-<repositoryId>') in at most 63 characters, got 'heal7-prod-{'a' * 53}' (64)"
    ]
    config["platform:gcp"]["artifactRegistry"] = {"repositoryId": "a" * 52}
    assert parse("prod", config).gcp.artifact_registry.repository_id == "a" * 52
