"""Per-type mock outputs: what each cloud resource type returns after create.

A builder takes (logical name, inputs, region, account) and returns (id, outputs) in
the cloud's real shapes (ARNs, `vpc-0...` ids, endpoints). Add one for every new type.
"""

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from tools.mock_values import digest, hex_of, public_ip, uuid_of

Builder = Callable[[str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _vpc(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    vpc_id = f"vpc-{hex_of(name)}"
    return vpc_id, {
        "arn": arn("ec2", region, account, f"vpc/{vpc_id}"),
        "ownerId": account,
        "defaultSecurityGroupId": f"sg-{hex_of(name + 'sg')}",
        "mainRouteTableId": f"rtb-{hex_of(name + 'rtb')}",
        "defaultNetworkAclId": f"acl-{hex_of(name + 'acl')}",
    }


def _ec2(prefix: str, arn_kind: str | None = None) -> Builder:
    """Builder for EC2 resources whose id is `<prefix>-<17 hex>` and ARN `<kind>/<id>`."""

    def build(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        resource_id = f"{prefix}-{hex_of(prefix + name)}"
        outputs: dict[str, Any] = {"ownerId": account}
        if arn_kind:
            outputs["arn"] = arn("ec2", region, account, f"{arn_kind}/{resource_id}")
        return resource_id, outputs

    return build


def _eip(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    allocation = f"eipalloc-{hex_of(name)}"
    ip = public_ip(name)
    return allocation, {
        "allocationId": allocation,
        "publicIp": ip,
        "publicDns": f"ec2-{ip.replace('.', '-')}.{region}.compute.amazonaws.com",
    }


def _nat(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"nat-{hex_of(name)}", {"networkInterfaceId": f"eni-{hex_of(name + 'eni')}", "state": "available"}


def _vpc_endpoint(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    endpoint_id = f"vpce-{hex_of(name)}"
    return endpoint_id, {
        "arn": arn("ec2", region, account, f"vpc-endpoint/{endpoint_id}"),
        "prefixListId": f"pl-{hex_of(name, 8)}",
        "state": "available",
    }


def _log_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or f"{name}-{hex_of(name, 7)}"
    return group, {"name": group, "arn": arn("logs", region, account, f"log-group:{group}")}


def _kms_key(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    key_id = uuid_of(name)
    return key_id, {"keyId": key_id, "arn": arn("kms", region, account, f"key/{key_id}")}


def _kms_alias(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    alias = inputs["name"]
    return alias, {
        "arn": arn("kms", region, account, alias),
        "targetKeyArn": arn("kms", region, account, f"key/{inputs.get('targetKeyId')}"),
    }


def _iam_role(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    role_name = inputs.get("name") or f"{name}-{hex_of(name, 7)}"  # Pulumi auto-naming
    return role_name, {
        "name": role_name,
        "arn": f"arn:aws:iam::{account}:role/{role_name}",
        "uniqueId": "AROA" + hex_of(name).upper(),
    }


def _iam_policy(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or f"{name}-{hex_of(name, 7)}"
    policy_arn = f"arn:aws:iam::{account}:policy/{policy_name}"
    return policy_arn, {"name": policy_name, "arn": policy_arn, "policyId": "ANPA" + hex_of(name).upper()}


def _role_policy(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or f"{name}-{hex_of(name, 7)}"
    return f"{inputs.get('role')}:{policy_name}", {"name": policy_name}


def _route(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"r-{inputs.get('routeTableId')}{int(hex_of(name, 8), 16)}", {"state": "active", "origin": "CreateRoute"}


def autoname(name: str, inputs: dict[str, Any], key: str = "name") -> str:
    """The physical name the engine would give: the input, or the resource name plus a suffix."""
    return str(inputs.get(key) or f"{name}-{hex_of(name, 7)}")


def _named(arn_service: str | None = None, arn_kind: str = "") -> Builder:
    """Builder for resources whose id is their (auto)name, e.g. parameter and subnet groups."""

    def build(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        physical = autoname(name, inputs)
        outputs: dict[str, Any] = {"name": physical}
        if arn_service:
            outputs["arn"] = arn(arn_service, region, account, f"{arn_kind}:{physical}")
        return physical, outputs

    return build


def _security_group_rule(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rule_id = f"sgr-{hex_of(name)}"
    return rule_id, {
        "securityGroupRuleId": rule_id,
        "arn": arn("ec2", region, account, f"security-group-rule/{rule_id}"),
    }


def _attachment(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('role')}-{hex_of(name, 20)}", {}


def _eks_cluster(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster = autoname(name, inputs)
    oidc_id = hex_of(name, 32).upper()
    ca = base64.b64encode(
        f"-----BEGIN CERTIFICATE-----\nmock CA of {cluster}\n-----END CERTIFICATE-----\n".encode()
    ).decode()
    return cluster, {
        "name": cluster,
        "arn": arn("eks", region, account, f"cluster/{cluster}"),
        "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}],
        "vpcConfig": {
            **inputs.get("vpcConfig", {}),
            "clusterSecurityGroupId": f"sg-{hex_of(name + 'cluster-sg')}",
            "vpcId": f"vpc-{hex_of(name)}",
        },
        "platformVersion": "eks.1",
        "status": "ACTIVE",
    }


def _oidc_provider(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    provider_arn = f"arn:aws:iam::{account}:oidc-provider/{str(inputs.get('url', '')).removeprefix('https://')}"
    return provider_arn, {"arn": provider_arn}


def _node_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = autoname(name, inputs, "nodeGroupName")
    cluster = inputs.get("clusterName")
    return f"{cluster}:{group}", {
        "nodeGroupName": group,
        "arn": arn("eks", region, account, f"nodegroup/{cluster}/{group}/{uuid_of(name)}"),
        "status": "ACTIVE",
    }


def _launch_template(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    template_id = f"lt-{hex_of(name)}"
    return template_id, {
        "arn": arn("ec2", region, account, f"launch-template/{template_id}"),
        "latestVersion": 1,
        "name": autoname(name, inputs),
    }


def _eks_addon(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster, addon = inputs.get("clusterName"), inputs.get("addonName")
    return f"{cluster}:{addon}", {
        "arn": arn("eks", region, account, f"addon/{cluster}/{addon}/{uuid_of(name)}"),
        "addonVersion": "v1.0.0-eksbuild.1",
    }


def _access_entry(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster = inputs.get("clusterName")
    return f"{cluster}:{inputs.get('principalArn')}", {
        "accessEntryArn": arn("eks", region, account, f"access-entry/{cluster}/role/{account}/{uuid_of(name)}"),
    }


def _rds_instance(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    identifier = autoname(name, inputs, "identifier")
    address = f"{identifier}.c{hex_of(account, 11)}.{region}.rds.amazonaws.com"
    port = 5432
    return f"db-{hex_of(name, 26).upper()}", {
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "arn": arn("rds", region, account, f"db:{identifier}"),
        "resourceId": f"db-{hex_of(name, 26).upper()}",
        "masterUserSecrets": [
            {
                "secretArn": arn("secretsmanager", region, account, f"secret:rds!db-{uuid_of(name)}-{hex_of(name, 6)}"),
                "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"),
                "secretStatus": "active",
            }
        ],
        "engineVersionActual": f"{inputs.get('engineVersion')}.4",
    }


def _backup_replication(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return arn("rds", region, account, f"auto-backup:ab-{hex_of(name, 26)}"), {}


def _replication_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = autoname(name, inputs, "replicationGroupId")[:40]
    suffix = f"{hex_of(name, 6)}.apn2.cache.amazonaws.com"
    return group, {
        "replicationGroupId": group,
        "arn": arn("elasticache", region, account, f"replicationgroup:{group}"),
        "primaryEndpointAddress": f"master.{group}.{suffix}",
        "readerEndpointAddress": f"replica.{group}.{suffix}",
        "port": inputs.get("port", 6379),
    }


def _random_password(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    digest = hashlib.sha512(name.encode()).digest() * 2
    value = "".join(alphabet[b % len(alphabet)] for b in digest[: int(inputs.get("length", 32))])
    return "none", {"result": value, "bcryptHash": "$2a$10$" + hex_of(value, 53)}


def _random_id(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    hex_value = hex_of(name, 2 * int(inputs.get("byteLength", 4)))
    return hex_value, {
        "hex": hex_value,
        "dec": str(int(hex_value, 16)),
        "b64Std": base64.b64encode(bytes.fromhex(hex_value)).decode(),
    }


def _secret(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    secret_arn = arn("secretsmanager", region, account, f"secret:{autoname(name, inputs)}-{hex_of(name, 6)}")
    return secret_arn, {"arn": secret_arn, "name": autoname(name, inputs)}


def _secret_version(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    version = uuid_of(name)
    return f"{inputs.get('secretId')}|{version}", {"versionId": version, "arn": inputs.get("secretId")}


def _ecr_repository(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    repository = autoname(name, inputs)
    return repository, {
        "arn": arn("ecr", region, account, f"repository/{repository}"),
        "registryId": account,
        "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}",
    }


def _s3_bucket(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix') or name + '-'}{digest(name)[:26]}"
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _on_bucket(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return str(inputs.get("bucket")), {}


RESOURCE_OUTPUTS: dict[str, Builder] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _ec2("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": _ec2("igw", "internet-gateway"),
    "aws:ec2/routeTable:RouteTable": _ec2("rtb", "route-table"),
    "aws:ec2/route:Route": _route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _ec2("rtbassoc"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _ec2("sg", "security-group"),
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": _ec2("acl", "network-acl"),
    "aws:ec2/flowLog:FlowLog": _ec2("fl", "vpc-flow-log"),
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _attachment,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:ec2/securityGroup:SecurityGroup": _ec2("sg", "security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _security_group_rule,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:eks/accessEntry:AccessEntry": _access_entry,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/parameterGroup:ParameterGroup": _named("rds", "pg"),
    "aws:rds/subnetGroup:SubnetGroup": _named("rds", "subgrp"),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": _backup_replication,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/parameterGroup:ParameterGroup": _named("elasticache", "parametergroup"),
    "aws:elasticache/subnetGroup:SubnetGroup": _named("elasticache", "subnetgroup"),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _on_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _on_bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _on_bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _on_bucket,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _on_bucket,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _on_bucket,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
}
