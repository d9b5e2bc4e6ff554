"""ElastiCacheRedis: the HEAL7 design's Redis as a Multi-AZ replication group, encrypted both ways.

The email-platform ops guide's anti-examples (`--requirepass dev_redis_password`, a base64
password in a Secret) become a generated auth token that lives only in Secrets Manager and in state,
marked secret.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws._context import AwsContext
from components.aws._kms import encrypted_log_groups
from components.aws._security_groups import ClientSource, service_security_group

REDIS_PORT = 6379


@dataclass
class ElastiCacheRedisArgs:
    """Inputs of ElastiCacheRedis. Defaults: the HEAL7 design's prod shape, encrypted, protected."""

    vpc_id: pulumi.Input[str]
    """Required: the VPC of the cache's security group."""
    subnet_ids: pulumi.Input[list[str]]
    """Required: private subnets, one per AZ, for the subnet group."""
    availability_zones: list[str]
    """Required: nodes are placed round-robin across these AZs, so each AZ holds a copy."""
    clients: list[ClientSource]
    """Required: who is admitted on 6379, each by a stable key (the EKS nodes' security group,
    the GKE pods' range across the VPN); nothing else is."""
    node_type: str = "cache.r6g.large"
    """ElastiCache node type. Default cache.r6g.large (the HEAL7 design's prod node)."""
    node_count: int = 3
    """Nodes in the replication group, primary included, in nodes (2-6: failover needs a replica). Default 3 (the
    HEAL7 design)."""
    engine_version: str = "7.1"
    """Redis OSS engine version, major.minor. Default 7.1 (the HEAL7 design runs Redis 7)."""
    snapshot_retention_days: int = 7
    """Automated snapshots kept, in days (0 turns them off; ElastiCache allows up to 35). Default 7."""
    snapshot_window: str = "02:00-03:00"
    """Daily snapshot window, "HH:MM-HH:MM" UTC, at least 60 minutes. Default 02:00-03:00, before RDS's backup
    window."""
    maintenance_window: str = "sun:05:00-sun:06:00"
    """Weekly maintenance window, "ddd:HH:MM-ddd:HH:MM" UTC, at least 60 minutes. Default sun:05:00-sun:06:00,
    after RDS's, so the two stores never restart together."""
    log_retention_days: int = 90
    """CloudWatch retention of the slow log, in days. Default 90."""
    protect: bool = True
    """`protect` the replication group, its key, logs and AUTH token secret. Default true."""
    apply_immediately: bool = True
    """Default True: ElastiCache refuses any change of log delivery without it
    (InvalidParameterValue); with False, other changes (node type, engine version) wait for
    `maintenance_window` and show as a pending diff until then."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource (a Name tag is added per resource). Default none."""


class ElastiCacheRedis(pulumi.ComponentResource):
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    auth_token: pulumi.Output[str]
    """The AUTH token itself, marked secret: a client's connection URL is built from it (the
    workloads' REDIS_URL); it never leaves the program except into a secret store."""
    auth_token_secret_arn: pulumi.Output[str]
    auth_token_key_arn: pulumi.Output[str]
    """The KMS key encrypting the auth token secret (a reader needs kms:Decrypt on it)."""
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: ElastiCacheRedisArgs, opts: pulumi.ResourceOptions | None = None):
        if args.node_count < 2:
            raise ValueError(
                f"ElastiCacheRedis {name}: automatic failover needs at least 2 nodes, got {args.node_count}"
            )
        if not args.clients:
            raise ValueError(f"ElastiCacheRedis {name}: no clients; the cache would be unreachable")
        super().__init__("platform:aws:ElastiCacheRedis", name, None, opts)
        aws_context = AwsContext.of(self)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # Under /aws/vendedlogs/: log delivery then needs no growth of the account's
        # size-limited CloudWatch Logs resource policy.
        key, log_groups = encrypted_log_groups(
            name,
            context=aws_context,
            description=f"Encrypts the data, snapshots, auth token and slow log of {name}",
            log_groups={f"{name}-slow-log": f"/aws/vendedlogs/elasticache/{name}/slow-log"},
            retention_days=args.log_retention_days,
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        slow_log = log_groups[f"{name}-slow-log"]

        # 64 alphanumerics: within ElastiCache's 16-128 printable characters, and free of
        # the characters it forbids (@, ", /, space) without a special-character list.
        auth_token = random.RandomPassword(f"{name}-auth-token", length=64, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-auth-token",
            description=f"AUTH token of {name}; External Secrets syncs it into the clusters",
            kms_key_id=key.arn,
            recovery_window_in_days=30,
            tags={**args.tags, "Name": f"{name}-auth-token"},
            opts=stateful,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-token-value", secret_id=secret.id, secret_string=auth_token.result, opts=child
        )

        parameter_group = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=f"redis{args.engine_version.split('.')[0]}",
            description=f"Cache behaviour of {name}",
            parameters=[
                # A cache (the HEAL7 design's hit-ratio target, > 95 %): evict least-recently-used keys
                # when full instead of failing writes.
                aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="allkeys-lru"),
                # Commands slower than 10 ms reach the slow log (and CloudWatch).
                aws.elasticache.ParameterGroupParameterArgs(name="slowlog-log-slower-than", value="10000"),
            ],
            tags={**args.tags, "Name": f"{name}-params"},
            opts=child,
        )
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.subnet_ids,
            description=f"Private subnets of {name}",
            tags={**args.tags, "Name": f"{name}-subnets"},
            opts=child,
        )
        security_group = service_security_group(
            name,
            vpc_id=args.vpc_id,
            description=f"Redis clients of {name}",
            port=REDIS_PORT,
            clients=args.clients,
            parent=self,
            tags=args.tags,
        )

        # A fresh suffix per group: a fixed final-snapshot name fails the second delete.
        snapshot_suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        zones = [args.availability_zones[i % len(args.availability_zones)] for i in range(args.node_count)]
        group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            description=f"Redis of {name} (the HEAL7 design's 3-node cache)",
            engine="redis",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.node_count,
            preferred_cache_cluster_azs=zones,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            port=REDIS_PORT,
            parameter_group_name=parameter_group.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            auth_token=auth_token.result,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window=args.snapshot_window,
            maintenance_window=args.maintenance_window,
            apply_immediately=args.apply_immediately,
            final_snapshot_identifier=pulumi.Output.concat(name, "-final-", snapshot_suffix.hex),
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                    log_type="slow-log",
                    log_format="json",
                    destination_type="cloudwatch-logs",
                    destination=slow_log.name,
                )
            ],
            tags={**args.tags, "Name": f"{name}-group"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, additional_secret_outputs=["authToken"]),
        )

        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.port = group.port.apply(lambda port: port or REDIS_PORT)
        self.auth_token = pulumi.Output.secret(auth_token.result)
        self.auth_token_secret_arn = secret.arn
        self.auth_token_key_arn = key.arn
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "primary_endpoint": self.primary_endpoint,
                "reader_endpoint": self.reader_endpoint,
                "port": self.port,
                "auth_token_secret_arn": self.auth_token_secret_arn,
                "auth_token_key_arn": self.auth_token_key_arn,
                "security_group_id": self.security_group_id,
            }
        )
