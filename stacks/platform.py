"""Compose the platform from components, in dependency order.

Order: explicit providers, then the network, then the cluster, then the data stores and
registries that trust the cluster's nodes and identities. Later issues add the GCP side,
the cross-cloud link, the Kubernetes layer and the Cloudflare front door. Components
never read config: everything they need arrives here as typed args.
"""

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_random as random

from components.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.aws_network import AwsNetwork, AwsNetworkArgs
from components.backup_bucket import BackupBucket, BackupBucketArgs
from components.cloudsql_replica import CloudSqlReplica, CloudSqlReplicaArgs
from components.cross_cloud_vpn import CrossCloudVpn, CrossCloudVpnArgs
from components.ecr_repositories import EcrRepositories, EcrRepositoriesArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.eks_node_group import NodeGroupSpec
from components.elasticache_redis import ElastiCacheRedis, ElastiCacheRedisArgs
from components.gcp_network import GcpNetwork, GcpNetworkArgs
from components.gke_cluster import AuthorizedNetwork, GkeCluster, GkeClusterArgs
from components.gke_node_pool import NodePoolSpec
from components.rds_primary import RdsPrimary, RdsPrimaryArgs
from stacks.aws_models import ScalingConfig
from stacks.gcp_models import NodePoolConfig
from stacks.models import PlatformConfig

# The seed's CPU-heavy engine gets its own nodes: only pods that tolerate this taint
# (and select the label) land there, and nothing else competes for their CPU.
SAJU_ENGINE_TAINT = aws.eks.NodeGroupTaintArgs(key="workload", value="saju-engine", effect="NO_SCHEDULE")


def build_platform(config: PlatformConfig) -> dict[str, Any]:
    """Register every resource of the stack; return the values the stack exports."""
    prefix = config.resource_prefix
    aws_config = config.aws

    # Explicit providers: the stack files disable default providers, so a resource that
    # forgets `providers=` fails at preview instead of landing in the wrong region.
    # default_tags stamps project/environment/owner on every taggable AWS resource.
    aws_provider = aws.Provider(
        f"{prefix}-aws", region=config.aws_region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=config.common_tags),
    )
    random_provider = random.Provider(f"{prefix}-random")
    on_aws = pulumi.ResourceOptions(providers=[aws_provider, random_provider])
    # default_labels puts the AWS tags' ownership labels on every labelable GCP resource,
    # so cost reports of both clouds group by the same keys.
    gcp_provider = gcp.Provider(
        f"{prefix}-gcp", project=config.gcp_project, region=config.gcp_region,
        default_labels=config.common_tags,
    )
    on_gcp = pulumi.ResourceOptions(providers=[gcp_provider, random_provider])

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
                _node_group("high-cpu", eks.node_groups.high_cpu,
                            {"node-class": "high-cpu", "workload": "saju-engine"}, [SAJU_ENGINE_TAINT]),
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
            allocated_storage=rds.allocated_storage,
            max_allocated_storage=rds.max_allocated_storage,
            tuning=rds.tuning.rds_values(),
            # PostgreSQL identifiers take no '-'; the seed names its admin heal7_admin.
            db_name=config.name.replace("-", "_"),
            master_username=f"{config.name.replace('-', '_')}_admin",
            client_security_group_ids=[cluster.node_security_group_id],
            # The Cloud SQL replica connects from Google's private service range.
            client_cidrs=[str(config.gcp.network.private_service_access_cidr)],
            multi_az=rds.multi_az,
            backup_retention_days=rds.backup_retention_days,
            backup_window=rds.backup_window,
            maintenance_window=rds.maintenance_window,
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
            client_security_group_ids=[cluster.node_security_group_id],
            node_type=redis.node_type,
            node_count=redis.node_count,
            engine_version=redis.engine_version,
            snapshot_retention_days=redis.snapshot_retention_days,
            snapshot_window=redis.snapshot_window,
            maintenance_window=redis.maintenance_window,
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
    backup_writer = cluster.irsa_role(
        f"{prefix}-backups-writer",
        backups.service_account.namespace,
        backups.service_account.name,
        inline_policy=backup_bucket.writer_policy,
        parent=backup_bucket,
    )

    # --- GCP secondary ---
    gcp_config = config.gcp
    gcp_network = GcpNetwork(
        f"{prefix}-gcp-network",
        GcpNetworkArgs(
            region=config.gcp_region,
            subnet_cidr=str(gcp_config.network.subnet_cidr),
            pods_cidr=str(gcp_config.network.pods_cidr),
            services_cidr=str(gcp_config.network.services_cidr),
            private_service_access_cidr=str(gcp_config.network.private_service_access_cidr),
        ),
        opts=on_gcp,
    )

    gke = gcp_config.gke
    cluster_gke = GkeCluster(
        f"{prefix}-gke",
        GkeClusterArgs(
            region=config.gcp_region,
            network_id=gcp_network.network_id,
            subnet_id=gcp_network.subnet_id,
            pods_range_name=gcp_network.pods_range_name,
            services_range_name=gcp_network.services_range_name,
            master_cidr=str(gcp_config.network.master_cidr),
            master_authorized_networks=[
                AuthorizedNetwork(cidr_block=str(n.cidr_block), display_name=n.display_name)
                for n in gke.master_authorized_networks
            ],
            public_endpoint=gke.public_endpoint,
            release_channel=gke.release_channel,
            maintenance_start_time=gke.maintenance_start_time,
            node_pools=[
                _node_pool("general", gke.node_pools.general, {"node-class": "general"}),
                # Model serving only: GkeNodePool adds GKE's nvidia.com/gpu taint to GPU pools.
                _node_pool("gpu", gke.node_pools.gpu, {"node-class": "gpu", "workload": "ai-models"}),
            ],
            protect=config.protect,
            labels=config.common_tags,
        ),
        opts=on_gcp,
    )

    # The cross-cloud link: four BGP tunnels between the two VPCs. Google's side
    # advertises the Cloud SQL private-services range so RDS's subnets route replies to it.
    vpn_config = gcp_config.vpn
    vpn = CrossCloudVpn(
        f"{prefix}-vpn",
        CrossCloudVpnArgs(
            gcp_region=config.gcp_region,
            gcp_network_id=gcp_network.network_id,
            aws_vpc_id=network.vpc_id,
            aws_private_route_table_ids=network.private_route_table_ids,
            # AwsNetwork has one private route table per AZ, in zone order.
            aws_private_route_table_keys=list(aws_config.availability_zones),
            inside_cidrs=[str(c) for c in vpn_config.inside_cidrs],
            gcp_asn=vpn_config.gcp_asn,
            aws_asn=vpn_config.aws_asn,
            gcp_advertised_ranges=[str(gcp_config.network.private_service_access_cidr)],
            log_retention_days=aws_config.log_retention_days,
            protect=config.protect,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, gcp_provider, random_provider]),
    )

    sql_config = gcp_config.cloud_sql
    replica = CloudSqlReplica(
        f"{prefix}-postgres-replica",
        CloudSqlReplicaArgs(
            region=config.gcp_region,
            network_id=gcp_network.network_id,
            psa_range_name=gcp_network.private_service_access_range_name,
            private_services_connection=gcp_network.private_services_connection,
            # The replica follows the RDS primary by its DNS name, across the VPN.
            source_host=database.address,
            source_ca_certificate=config.rds_ca_certificate,
            engine_major_version=sql_config.engine_major_version,
            tier=sql_config.tier,
            disk_size_gb=sql_config.disk_size_gb,
            database_flags={"max_connections": str(sql_config.max_connections)},
            replication_username=sql_config.replication_username,
            protect=config.protect,
            # Cloud SQL's user_labels sit under settings, out of the provider's default_labels.
            labels=config.common_tags,
        ),
        opts=on_gcp,
    )

    registry_config = gcp_config.artifact_registry
    gcp_registry = ArtifactRegistry(
        f"{prefix}-registry",
        ArtifactRegistryArgs(
            location=config.gcp_region,
            repository_id=f"{prefix}-{registry_config.repository_id}",
            keep_last_versions=registry_config.keep_last_versions,
            untagged_expire_days=registry_config.untagged_expire_days,
            # GKE nodes pull the workload images; nothing else reads the repository.
            reader_members=[cluster_gke.node_service_account_email.apply(lambda email: f"serviceAccount:{email}")],
            protect=config.protect,
        ),
        opts=on_gcp,
    )

    return {
        "environment": config.environment,
        "awsRegion": config.aws_region,
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "privateRouteTableIds": network.private_route_table_ids,
        "natPublicIps": network.nat_public_ips,
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
        "gcpRegion": config.gcp_region,
        "gcpNetworkId": gcp_network.network_id,
        "gcpSubnetId": gcp_network.subnet_id,
        "gcpPrivateServiceAccessRange": gcp_network.private_service_access_range_name,
        "gkeClusterName": cluster_gke.cluster_name,
        "gkeEndpoint": cluster_gke.endpoint,
        "gkeKubeconfig": cluster_gke.kubeconfig,
        "gkeNodeServiceAccount": cluster_gke.node_service_account_email,
        "artifactRegistryUrl": gcp_registry.repository_url,
        "vpnGcpGatewayIps": vpn.gcp_gateway_ips,
        "vpnAwsTunnelAddresses": vpn.aws_tunnel_addresses,
        "cloudSqlReplicaName": replica.instance_name,
        "cloudSqlReplicaConnectionName": replica.connection_name,
        "cloudSqlPrivateIp": replica.private_ip_address,
        "cloudSqlReplicationSecretId": replica.replication_password_secret_id,
        "cloudSqlVerifyExternalSyncCommand": replica.verify_external_sync_command,
        "cloudSqlStartExternalSyncCommand": replica.start_external_sync_command,
    }


def _node_group(role: str, scaling: ScalingConfig, labels: dict[str, str],
                taints: list[aws.eks.NodeGroupTaintArgs] | None = None) -> NodeGroupSpec:
    return NodeGroupSpec(
        role=role, instance_types=list(scaling.instance_types), min_size=scaling.min_size,
        desired_size=scaling.desired_size, max_size=scaling.max_size, labels=labels, taints=taints or [],
    )


def _node_pool(role: str, pool: NodePoolConfig, labels: dict[str, str]) -> NodePoolSpec:
    return NodePoolSpec(
        role=role, machine_type=pool.machine_type,
        min_nodes_per_zone=pool.min_nodes_per_zone, max_nodes_per_zone=pool.max_nodes_per_zone,
        disk_size_gb=pool.disk_size_gb, node_locations=list(pool.node_locations),
        accelerator_type=pool.accelerator_type, accelerator_count=pool.accelerator_count, labels=labels,
    )
