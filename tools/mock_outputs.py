"""Realistic mock outputs for the offline synth.

The mock monitor asks these mocks for each resource's id and output state, and for the
result of each provider function (invoke). Values have the clouds' real shapes (ARNs,
`vpc-0…` ids, public IPs in the region's ranges) and are derived from the resource name,
so the same program gives the same inventory on every run and a diff shows only real
changes.

An invoke that has no mock raises, so a new data source cannot silently come back empty.
"""

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _hex(seed: str, length: int = 17) -> str:
    return _digest(seed)[:length]


def _public_ip(seed: str) -> str:
    """An address inside 3.34.0.0/15, a block AWS announces in ap-northeast-2."""
    digest = bytes.fromhex(_digest(seed)[:6])
    return f"3.{34 + digest[0] % 2}.{digest[1]}.{max(digest[2], 1)}"


def _uuid(seed: str) -> str:
    h = _digest(seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


class PlatformMocks(pulumi.runtime.Mocks):
    """Per-type ids and outputs for the AWS resources the platform registers."""

    def __init__(self, stack: str):
        self.stack = stack
        # A 12-digit fake account per stack, so ARNs have AWS's exact shape.
        self.account_id = str(int(_digest(stack)[:12], 16) % 10**12).rjust(12, "0")
        # Provider reference ("urn::id") -> the provider's inputs, filled by the monitor,
        # so a resource's ARN carries its own provider's region.
        self.provider_inputs: dict[str, dict[str, Any]] = {}
        # (token, provider reference) of every invoke, in call order.
        self.invokes: list[tuple[str, str]] = []

    # -- resources ------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{_uuid(args.name)}", inputs
        if args.custom and not args.provider:
            # The stacks disable default providers, so the real engine would refuse this.
            raise ValueError(f"{args.typ} {args.name!r} has no explicit provider")
        # pulumi-aws 7 resources may name their own region; it overrides the provider's.
        region = str(inputs.get("region") or self._region(args.provider))
        builder = _RESOURCE_OUTPUTS.get(args.typ)
        if builder is None:
            return f"{args.name}-{_hex(args.name, 8)}", inputs
        resource_id, outputs = builder(args.name, inputs, region, self.account_id)
        return resource_id, {**inputs, **outputs}

    def _region(self, provider_ref: str | None) -> str:
        # Components and region-less providers (random) need no region for their ids.
        inputs = self.provider_inputs.get(provider_ref or "") or {}
        return str(inputs.get("region", "ap-northeast-2"))

    # -- invokes --------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if not args.provider:
            # With default providers disabled, a provider-less invoke fails for real.
            raise ValueError(f"invoke {args.token} has no explicit provider; pass opts with parent= or provider=")
        self.invokes.append((args.token, args.provider))
        region = self._region(args.provider)
        account = self.account_id
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": account,
                "arn": f"arn:aws:sts::{account}:assumed-role/platform-deployer/pulumi",
                "userId": "AROA" + _hex(account, 17).upper(),
                "id": account,
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            },
            "aws:index/getRegion:getRegion": {
                "region": region,
                "name": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": f"AWS region {region}",
            },
        }
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            results[args.token] = {
                "addonName": args.args["addonName"],
                "kubernetesVersion": args.args["kubernetesVersion"],
                "version": f"v1.{int(_hex(args.args['addonName'], 2), 16) % 20}.0-eksbuild.1",
                "id": args.args["addonName"],
            }
        if args.token not in results:
            raise NotImplementedError(f"no mock for invoke {args.token}; add one in tools/mock_outputs.py")
        return results[args.token], []


Builder = Callable[[str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _vpc(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    vpc_id = f"vpc-{_hex(name)}"
    return vpc_id, {
        "arn": _arn("ec2", region, account, f"vpc/{vpc_id}"),
        "ownerId": account,
        "defaultSecurityGroupId": f"sg-{_hex(name + 'sg')}",
        "mainRouteTableId": f"rtb-{_hex(name + 'rtb')}",
        "defaultNetworkAclId": f"acl-{_hex(name + 'acl')}",
    }


def _ec2(prefix: str, arn_kind: str | None = None) -> Builder:
    """Builder for EC2 resources whose id is `<prefix>-<17 hex>` and ARN `<kind>/<id>`."""

    def build(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        resource_id = f"{prefix}-{_hex(prefix + name)}"
        outputs: dict[str, Any] = {"ownerId": account}
        if arn_kind:
            outputs["arn"] = _arn("ec2", region, account, f"{arn_kind}/{resource_id}")
        return resource_id, outputs

    return build


def _eip(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    allocation = f"eipalloc-{_hex(name)}"
    ip = _public_ip(name)
    return allocation, {"allocationId": allocation, "publicIp": ip, "publicDns": f"ec2-{ip.replace('.', '-')}.{region}.compute.amazonaws.com"}


def _nat(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"nat-{_hex(name)}", {"networkInterfaceId": f"eni-{_hex(name + 'eni')}", "state": "available"}


def _vpc_endpoint(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    endpoint_id = f"vpce-{_hex(name)}"
    return endpoint_id, {"arn": _arn("ec2", region, account, f"vpc-endpoint/{endpoint_id}"), "prefixListId": f"pl-{_hex(name, 8)}", "state": "available"}


def _log_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or f"{name}-{_hex(name, 7)}"
    return group, {"name": group, "arn": _arn("logs", region, account, f"log-group:{group}")}


def _kms_key(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    key_id = _uuid(name)
    return key_id, {"keyId": key_id, "arn": _arn("kms", region, account, f"key/{key_id}")}


def _kms_alias(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    alias = inputs["name"]
    return alias, {"arn": _arn("kms", region, account, alias), "targetKeyArn": _arn("kms", region, account, f"key/{inputs.get('targetKeyId')}")}


def _iam_role(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    role_name = inputs.get("name") or f"{name}-{_hex(name, 7)}"  # Pulumi auto-naming
    return role_name, {"name": role_name, "arn": f"arn:aws:iam::{account}:role/{role_name}", "uniqueId": "AROA" + _hex(name).upper()}


def _role_policy(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or f"{name}-{_hex(name, 7)}"
    return f"{inputs.get('role')}:{policy_name}", {"name": policy_name}


def _route(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"r-{inputs.get('routeTableId')}{int(_hex(name, 8), 16)}", {"state": "active", "origin": "CreateRoute"}


def _autoname(name: str, inputs: dict[str, Any], key: str = "name") -> str:
    """The physical name the engine would give: the input, or the resource name plus a suffix."""
    return str(inputs.get(key) or f"{name}-{_hex(name, 7)}")


def _named(arn_service: str | None = None, arn_kind: str = "") -> Builder:
    """Builder for resources whose id is their (auto)name, e.g. parameter and subnet groups."""

    def build(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        physical = _autoname(name, inputs)
        outputs: dict[str, Any] = {"name": physical}
        if arn_service:
            outputs["arn"] = _arn(arn_service, region, account, f"{arn_kind}:{physical}")
        return physical, outputs

    return build


def _security_group_rule(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rule_id = f"sgr-{_hex(name)}"
    return rule_id, {"securityGroupRuleId": rule_id, "arn": _arn("ec2", region, account, f"security-group-rule/{rule_id}")}


def _attachment(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('role')}-{_hex(name, 20)}", {}


def _eks_cluster(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster = _autoname(name, inputs)
    oidc_id = _hex(name, 32).upper()
    ca = base64.b64encode(f"-----BEGIN CERTIFICATE-----\nmock CA of {cluster}\n-----END CERTIFICATE-----\n".encode()).decode()
    return cluster, {
        "name": cluster,
        "arn": _arn("eks", region, account, f"cluster/{cluster}"),
        "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}],
        "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{_hex(name + 'cluster-sg')}",
                      "vpcId": f"vpc-{_hex(name)}"},
        "platformVersion": "eks.1",
        "status": "ACTIVE",
    }


def _oidc_provider(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    arn = f"arn:aws:iam::{account}:oidc-provider/{str(inputs.get('url', '')).removeprefix('https://')}"
    return arn, {"arn": arn}


def _node_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = _autoname(name, inputs, "nodeGroupName")
    cluster = inputs.get("clusterName")
    return f"{cluster}:{group}", {
        "nodeGroupName": group,
        "arn": _arn("eks", region, account, f"nodegroup/{cluster}/{group}/{_uuid(name)}"),
        "status": "ACTIVE",
    }


def _launch_template(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    template_id = f"lt-{_hex(name)}"
    return template_id, {"arn": _arn("ec2", region, account, f"launch-template/{template_id}"), "latestVersion": 1,
                         "name": _autoname(name, inputs)}


def _eks_addon(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster, addon = inputs.get("clusterName"), inputs.get("addonName")
    return f"{cluster}:{addon}", {
        "arn": _arn("eks", region, account, f"addon/{cluster}/{addon}/{_uuid(name)}"),
        "addonVersion": "v1.0.0-eksbuild.1",
    }


def _access_entry(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster = inputs.get("clusterName")
    return f"{cluster}:{inputs.get('principalArn')}", {
        "accessEntryArn": _arn("eks", region, account, f"access-entry/{cluster}/role/{account}/{_uuid(name)}"),
    }


def _rds_instance(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    identifier = _autoname(name, inputs, "identifier")
    address = f"{identifier}.c{_hex(account, 11)}.{region}.rds.amazonaws.com"
    port = 5432
    return f"db-{_hex(name, 26).upper()}", {
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "arn": _arn("rds", region, account, f"db:{identifier}"),
        "resourceId": f"db-{_hex(name, 26).upper()}",
        "masterUserSecrets": [{
            "secretArn": _arn("secretsmanager", region, account, f"secret:rds!db-{_uuid(name)}-{_hex(name, 6)}"),
            "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"),
            "secretStatus": "active",
        }],
        "engineVersionActual": f"{inputs.get('engineVersion')}.4",
    }


def _backup_replication(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return _arn("rds", region, account, f"auto-backup:ab-{_hex(name, 26)}"), {}


def _replication_group(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group = _autoname(name, inputs, "replicationGroupId")[:40]
    suffix = f"{_hex(name, 6)}.apn2.cache.amazonaws.com"
    return group, {
        "replicationGroupId": group,
        "arn": _arn("elasticache", region, account, f"replicationgroup:{group}"),
        "primaryEndpointAddress": f"master.{group}.{suffix}",
        "readerEndpointAddress": f"replica.{group}.{suffix}",
        "port": inputs.get("port", 6379),
    }


def _random_password(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    digest = hashlib.sha512(name.encode()).digest() * 2
    value = "".join(alphabet[b % len(alphabet)] for b in digest[: int(inputs.get("length", 32))])
    return "none", {"result": value, "bcryptHash": "$2a$10$" + _hex(value, 53)}


def _random_id(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    hex_value = _hex(name, 2 * int(inputs.get("byteLength", 4)))
    return hex_value, {"hex": hex_value, "dec": str(int(hex_value, 16)),
                       "b64Std": base64.b64encode(bytes.fromhex(hex_value)).decode()}


def _secret(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    arn = _arn("secretsmanager", region, account, f"secret:{_autoname(name, inputs)}-{_hex(name, 6)}")
    return arn, {"arn": arn, "name": _autoname(name, inputs)}


def _secret_version(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    version = _uuid(name)
    return f"{inputs.get('secretId')}|{version}", {"versionId": version, "arn": inputs.get("secretId")}


def _ecr_repository(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    repository = _autoname(name, inputs)
    return repository, {
        "arn": _arn("ecr", region, account, f"repository/{repository}"),
        "registryId": account,
        "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}",
    }


def _s3_bucket(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix') or name + '-'}{_digest(name)[:26]}"
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _on_bucket(name: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    return str(inputs.get("bucket")), {}


_RESOURCE_OUTPUTS: dict[str, Builder] = {
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
