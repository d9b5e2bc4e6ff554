"""The GCP secondary region: network, GKE, the Cloud SQL replica of RDS, Artifact Registry."""

from dataclasses import dataclass
from typing import Any

import pulumi

from components.gcp.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs
from components.gcp.cloudsql_replica import CloudSqlReplica, CloudSqlReplicaArgs
from components.gcp.gke_cluster import AuthorizedNetwork, GkeCluster, GkeClusterArgs
from components.gcp.gke_node_pool import NodePoolSpec
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from stacks.config.gcp_models import NodePoolConfig
from stacks.config.models import PlatformConfig


@dataclass
class GcpSecondary:
    """The GCP components the cross-cloud link and the Kubernetes layer build on."""

    network: GcpNetwork
    cluster: GkeCluster
    replica: CloudSqlReplica
    registry: ArtifactRegistry

    def exports(self, config: PlatformConfig) -> dict[str, Any]:
        gcp_network, cluster_gke, replica, gcp_registry = self.network, self.cluster, self.replica, self.registry
        return {
            "gcpRegion": config.gcp_region,
            "gcpNetworkId": gcp_network.network_id,
            "gcpSubnetId": gcp_network.subnet_id,
            # The Kubernetes layer's ingress gateway Service claims this address.
            "gcpIngressAddress": gcp_network.ingress_address,
            "gcpPrivateServiceAccessRange": gcp_network.private_service_access_range_name,
            "gkeClusterName": cluster_gke.cluster_name,
            "gkeEndpoint": cluster_gke.endpoint,
            "gkeKubeconfig": cluster_gke.kubeconfig,
            "gkeNodeServiceAccount": cluster_gke.node_service_account_email,
            "artifactRegistryUrl": gcp_registry.repository_url,
            "cloudSqlReplicaName": replica.instance_name,
            "cloudSqlReplicaConnectionName": replica.connection_name,
            "cloudSqlPrivateIp": replica.private_ip_address,
            "cloudSqlReplicationSecretId": replica.replication_password_secret_id,
            "cloudSqlVerifyExternalSyncCommand": replica.verify_external_sync_command,
            "cloudSqlStartExternalSyncCommand": replica.start_external_sync_command,
        }


def build_gcp(config: PlatformConfig, on_gcp: pulumi.ResourceOptions, source_host: pulumi.Input[str]) -> GcpSecondary:
    """Register the GCP secondary region; the Cloud SQL replica follows the RDS primary,
    which it reaches by `source_host` (a short alias of the RDS address)."""
    prefix = config.resource_prefix
    gcp_config = config.gcp
    gcp_network = GcpNetwork(
        f"{prefix}-gcp",
        GcpNetworkArgs(
            region=config.gcp_region,
            subnet_cidr=str(gcp_config.network.subnet_cidr),
            pods_cidr=str(gcp_config.network.pods_cidr),
            services_cidr=str(gcp_config.network.services_cidr),
            private_service_access_cidr=str(gcp_config.network.private_service_access_cidr),
            protect=config.protect,
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
            network_dependencies=gcp_network.peering_operations,
            security_group=config.kubernetes.gke_security_group,
        ),
        opts=on_gcp,
    )

    sql_config = gcp_config.cloud_sql
    replica = CloudSqlReplica(
        f"{prefix}-postgres-replica",
        CloudSqlReplicaArgs(
            region=config.gcp_region,
            network_id=gcp_network.network_id,
            psa_range_name=gcp_network.private_service_access_range_name,
            private_services_peering=gcp_network.peering_operations,
            # The replica follows the RDS primary by a DNS name, across the VPN.
            source_host=source_host,
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
            readers={
                "gke-nodes": cluster_gke.node_service_account_email.apply(lambda email: f"serviceAccount:{email}")
            },
            protect=config.protect,
        ),
        opts=on_gcp,
    )

    return GcpSecondary(gcp_network, cluster_gke, replica, gcp_registry)


def _node_pool(role: str, pool: NodePoolConfig, labels: dict[str, str]) -> NodePoolSpec:
    return NodePoolSpec(
        role=role,
        machine_type=pool.machine_type,
        min_nodes_per_zone=pool.min_nodes_per_zone,
        max_nodes_per_zone=pool.max_nodes_per_zone,
        disk_size_gb=pool.disk_size_gb,
        node_locations=list(pool.node_locations),
        accelerator_type=pool.accelerator_type,
        accelerator_count=pool.accelerator_count,
        labels=labels,
    )
