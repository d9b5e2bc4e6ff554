"""The AWS primary region: network, EKS, the data stores and the artifact stores.

Order: the network, then the cluster, then the data stores and registries that trust the
cluster's nodes and identities.
"""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.backup_bucket import BackupBucket, BackupBucketArgs
from components.aws.ecr_repositories import EcrRepositories, EcrRepositoriesArgs
from components.aws.eks.cluster import EksCluster, EksClusterArgs
from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.eks.node_group import NodeGroupSpec
from components.aws.elasticache_redis import ElastiCacheRedis, ElastiCacheRedisArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.aws.rds_primary import ClientSource, RdsPrimary, RdsPrimaryArgs
from stacks.config.aws_models import ScalingConfig
from stacks.config.models import PlatformConfig

# The HEAL7 design's CPU-heavy engine gets its own nodes: only pods that tolerate this taint
# (and select the label) land there, and nothing else competes for their CPU.
SAJU_ENGINE_TAINT = aws.eks.NodeGroupTaintArgs(key="workload", value="saju-engine", effect="NO_SCHEDULE")


@dataclass
class AwsPrimary:
    """The AWS components later layers (GCP replica, VPN, Kubernetes) build on."""

    network: AwsNetwork
    cluster: EksCluster
    database: RdsPrimary
    cache: ElastiCacheRedis
    registries: EcrRepositories
    backup_bucket: BackupBucket
    backup_writer: IrsaRole
    backup_reader: IrsaRole

    def exports(self) -> dict[str, Any]:
        network, cluster, database, cache = self.network, self.cluster, self.database, self.cache
        registries, backup_bucket, backup_writer = self.registries, self.backup_bucket, self.backup_writer
        return {
            "vpcId": network.vpc_id,
            "vpcCidr": network.vpc_cidr,
            "publicSubnetIds": network.public_subnet_ids,
            "privateSubnetIds": network.private_subnet_ids,
            "privateRouteTableIds": network.private_route_table_ids,
            "natPublicIps": network.nat_public_ips,
            # The Kubernetes layer's ingress NLB claims these (subnet mappings, one per AZ).
            "ingressAddresses": network.ingress_addresses,
            "ingressAllocationIds": network.ingress_allocation_ids,
            "flowLogGroupName": network.flow_log_group_name,
            "eksClusterName": cluster.cluster_name,
            "eksEndpoint": cluster.endpoint,
            "eksOidcProviderArn": cluster.oidc_provider_arn,
            "eksOidcIssuerUrl": cluster.oidc_issuer_url,
            "eksNodeSecurityGroupId": cluster.node_security_group_id,
            "kubeconfig": cluster.kubeconfig,
            "rdsEndpoint": database.endpoint,
            "rdsAddress": database.address,
            "rdsPort": database.port,
            "rdsMasterSecretArn": database.master_secret_arn,
            "rdsSecurityGroupId": database.security_group_id,
            "redisPrimaryEndpoint": cache.primary_endpoint,
            "redisReaderEndpoint": cache.reader_endpoint,
            "redisPort": cache.port,
            "redisAuthTokenSecretArn": cache.auth_token_secret_arn,
            "ecrRepositoryUrls": registries.repository_urls,
            "backupBucketName": backup_bucket.bucket_name,
            "backupWriterRoleArn": backup_writer.role_arn,
            "backupReaderRoleArn": self.backup_reader.role_arn,
        }


def build_aws(config: PlatformConfig, on_aws: pulumi.ResourceOptions) -> AwsPrimary:
    """Register the AWS primary region with the explicit providers in `on_aws`."""
    prefix = config.resource_prefix
    aws_config = config.aws

    subnets = aws_config.subnet_plan()
    network = AwsNetwork(
        f"{prefix}-network",
        AwsNetworkArgs(
            vpc_cidr=str(aws_config.network.vpc_cidr),
            availability_zones=list(aws_config.availability_zones),
            private_subnet_cidrs=[str(c) for c in subnets.private],
            public_subnet_cidrs=[str(c) for c in subnets.public],
            nat_gateway_mode=aws_config.network.nat_gateways,
            flow_log_retention_days=aws_config.network.flow_log_retention_days,
            protect=config.protect,
        ),
        opts=on_aws,
    )

    eks = aws_config.eks
    cluster = EksCluster(
        f"{prefix}-eks",
        EksClusterArgs(
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            version=eks.version,
            admin_roles=list(eks.admin_roles),
            service_cidr=str(eks.service_cidr),
            public_access_cidrs=[str(c) for c in eks.public_access_cidrs],
            node_groups=[
                _node_group("general", eks.node_groups.general, {"node-class": "general"}),
                _node_group(
                    "high-cpu",
                    eks.node_groups.high_cpu,
                    {"node-class": "high-cpu", "workload": "saju-engine"},
                    [SAJU_ENGINE_TAINT],
                ),
            ],
            log_retention_days=aws_config.log_retention_days,
            protect=config.protect,
            instance_tags=config.common_tags,
        ),
        opts=on_aws,
    )

    rds = aws_config.rds
    database = RdsPrimary(
        f"{prefix}-postgres",
        RdsPrimaryArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            engine_major_version=rds.engine_major_version,
            instance_class=rds.instance_class,
            allocated_storage_gib=rds.allocated_storage,
            max_allocated_storage_gib=rds.max_allocated_storage,
            tuning=rds.tuning.rds_values(),
            # PostgreSQL identifiers take no '-'; the HEAL7 design names its admin heal7_admin.
            db_name=application_database(config),
            master_username=f"{config.name.replace('-', '_')}_admin",
            clients=[
                ClientSource("eks-nodes", "PostgreSQL from the EKS worker nodes", cluster.node_security_group_id),
                # The Cloud SQL replica connects from Google's private service range.
                ClientSource(
                    "cloudsql-replica",
                    "PostgreSQL replication from the Cloud SQL replica over the VPN",
                    cidr=str(config.gcp.network.private_service_access_cidr),
                ),
                _gke_pods(config, "PostgreSQL from the GKE pods over the VPN (their DATABASE_URL: writes)"),
            ],
            multi_az=rds.multi_az,
            backup_retention_days=rds.backup_retention_days,
            backup_window=rds.backup_window,
            maintenance_window=rds.maintenance_window,
            apply_immediately=rds.apply_immediately,
            backup_replica_region=rds.backup_replica_region,
            log_retention_days=aws_config.log_retention_days,
            protect=config.protect,
        ),
        opts=on_aws,
    )

    redis = aws_config.redis
    cache = ElastiCacheRedis(
        f"{prefix}-redis",
        ElastiCacheRedisArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            availability_zones=list(aws_config.availability_zones),
            clients=[
                ClientSource("eks-nodes", "Redis from the EKS worker nodes", cluster.node_security_group_id),
                _gke_pods(config, "Redis (sessions and cache) from the GKE pods over the VPN"),
            ],
            node_type=redis.node_type,
            node_count=redis.node_count,
            engine_version=redis.engine_version,
            snapshot_retention_days=redis.snapshot_retention_days,
            snapshot_window=redis.snapshot_window,
            maintenance_window=redis.maintenance_window,
            apply_immediately=redis.apply_immediately,
            log_retention_days=aws_config.log_retention_days,
            protect=config.protect,
        ),
        opts=on_aws,
    )

    registries = EcrRepositories(
        f"{prefix}-ecr",
        EcrRepositoriesArgs(
            repositories=list(aws_config.ecr.repositories),
            name_prefix=prefix,
            keep_last_images=aws_config.ecr.keep_last_images,
            protect=config.protect,
        ),
        opts=on_aws,
    )

    backups = aws_config.backups
    backup_bucket = BackupBucket(
        f"{prefix}-backups",
        BackupBucketArgs(
            infrequent_access_after_days=backups.infrequent_access_after_days,
            glacier_after_days=backups.glacier_after_days,
            expire_after_days=backups.expire_after_days,
            noncurrent_expire_after_days=backups.noncurrent_expire_after_days,
            protect=config.protect,
        ),
        opts=on_aws,
    )
    # The nightly dump job's identity: it may add objects to this bucket and nothing else.
    backup_writer = IrsaRole(
        f"{prefix}-backups-writer",
        IrsaRoleArgs(
            oidc=cluster.oidc_identity,
            namespace=backups.service_account.namespace,
            service_account=backups.service_account.name,
            inline_policy=backup_bucket.writer_policy,
        ),
        opts=pulumi.ResourceOptions(parent=backup_bucket),
    )
    # The weekly restore drill's identity, in the same namespace: it may list and read the
    # PostgreSQL dumps and nothing else (no write, no delete).
    backup_reader = IrsaRole(
        f"{prefix}-backups-reader",
        IrsaRoleArgs(
            oidc=cluster.oidc_identity,
            namespace=backups.service_account.namespace,
            service_account=backups.service_account.drill_name,
            inline_policy=backup_bucket.reader_policy,
        ),
        opts=pulumi.ResourceOptions(parent=backup_bucket),
    )

    return AwsPrimary(network, cluster, database, cache, registries, backup_bucket, backup_writer, backup_reader)


def application_database(config: PlatformConfig) -> str:
    """The application database RDS creates (and the replica copies); PostgreSQL identifiers take no '-'."""
    return config.name.replace("-", "_")


def backup_role(config: PlatformConfig) -> str:
    """The PostgreSQL role the nightly dump logs in as: `pg_read_all_data` only (runbook)."""
    return f"{application_database(config)}_backup"


def monitoring_role(config: PlatformConfig) -> str:
    """The PostgreSQL role postgres-exporter logs in as: `pg_monitor` only (README)."""
    return f"{application_database(config)}_monitor"


def _gke_pods(config: PlatformConfig, description: str) -> ClientSource:
    """The GKE pods' range as a client across the VPN. GKE keeps pod IPs as the source towards
    10.0.0.0/8 (among its default non-masquerade destinations), so AWS sees the pods range,
    not the nodes', and Cloud Router advertises it for the replies."""
    return ClientSource("gke-pods", description, cidr=str(config.gcp.network.pods_cidr))


def _node_group(
    role: str, scaling: ScalingConfig, labels: dict[str, str], taints: list[aws.eks.NodeGroupTaintArgs] | None = None
) -> NodeGroupSpec:
    return NodeGroupSpec(
        role=role,
        instance_types=list(scaling.instance_types),
        min_size=scaling.min_size,
        desired_size=scaling.desired_size,
        max_size=scaling.max_size,
        labels=labels,
        taints=taints or [],
    )
