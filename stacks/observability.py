"""What watches one cluster, from the stack's config: the MonitoringStack's arguments (its
alert rules, SLOs, scrape targets, dashboards and Alertmanager routing) and how both clouds
are seen in one Grafana.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes._exporter_values import PostgresTarget, RedisTarget
from components.kubernetes._scrape_targets import scrape_targets
from components.kubernetes.data_store_exporters import DataStoreExporters, DataStoreExportersArgs
from components.kubernetes.database_backups import DatabaseBackups, DatabaseBackupsArgs
from components.kubernetes.encrypted_storage import STORAGE_CLASS, EncryptedStorage, EncryptedStorageArgs
from components.kubernetes.istio_mesh import Platform
from components.kubernetes.logging_stack import LoggingStack, LoggingStackArgs
from components.kubernetes.metrics_adapter import MetricsAdapter, MetricsAdapterArgs
from components.kubernetes.monitoring_stack import (
    NAMESPACE as MONITORING_NAMESPACE,
)
from components.kubernetes.monitoring_stack import (
    InternalEndpoint,
    MonitoringStack,
    MonitoringStackArgs,
    ReceiverCredentials,
)
from components.kubernetes.observability.alert_rules import WatchedWorkload, document_rule_groups
from components.kubernetes.observability.alertmanager_config import AlertRoutingSpec, alertmanager_config
from components.kubernetes.observability.dashboards import dashboards
from components.kubernetes.observability.slo_rules import SloTarget, slo_rule_groups
from stacks.config.models import PlatformConfig
from stacks.config.workload_models import POOL_CLUSTERS
from stacks.workloads import POOL_PLACEMENT

# The Service the operator puts in front of every Prometheus replica (prometheus-adapter's and
# Argo Rollouts' analysis queries).
PROMETHEUS_SERVICE = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc"
# The Kubernetes Secret (in monitoring) holding the receivers' credentials, mounted by Alertmanager.
RECEIVERS_SECRET = "alertmanager-receivers"


@dataclass
class CrossCloudView:
    """How one cluster's monitoring takes part in the view of both clouds."""

    internal_endpoint: InternalEndpoint | None = None
    """Its Prometheus served to the other cloud. Default None."""
    peer_data_sources: list[dict[str, Any]] = field(default_factory=list)
    """The other cloud's Prometheus as a Grafana data source. Default none."""


def cross_cloud_views(config: PlatformConfig, gke_address: pulumi.Input[str]) -> dict[str, CrossCloudView]:
    """Both clouds in one place: EKS's Grafana (the primary's, where operators look first)
    has GKE's Prometheus as a second data source, across the HA VPN to an internal load
    balancer on a reserved address; only the AWS VPC's range is admitted.

    Why two data sources, not federation or remote write: each Prometheus keeps evaluating
    its own cluster's rules and paging on its own, so losing the VPN or a region never
    silences the survivor; nothing is stored twice; and a dashboard switches clusters with
    its `datasource` variable. GKE's Grafana shows GKE alone: when AWS is down it is the
    one left, and it needs nothing from AWS to work.
    """
    return {
        "eks": CrossCloudView(
            peer_data_sources=[
                {
                    "name": "Prometheus (gke)",
                    "uid": "prometheus-gke",
                    "type": "prometheus",
                    "access": "proxy",
                    "url": pulumi.Output.concat("http://", gke_address, ":9090"),
                    "jsonData": {
                        "httpMethod": "POST",
                        "timeInterval": f"{config.monitoring.prometheus.scrape_interval_seconds}s",
                    },
                }
            ]
        ),
        "gke": CrossCloudView(
            internal_endpoint=InternalEndpoint(address=gke_address, source_ranges=[str(config.aws.network.vpc_cidr)])
        ),
    }


def monitoring_args(
    config: PlatformConfig,
    platform: Platform,
    *,
    storage_class: pulumi.Input[str],
    secret_store_name: pulumi.Input[str],
    secret_prefix: str,
    view: CrossCloudView,
    after: list[pulumi.Resource],
) -> MonitoringStackArgs:
    """One cluster's MonitoringStack from `platform:monitoring`."""
    monitoring = config.monitoring
    routing = _routing(config)
    return MonitoringStackArgs(
        platform=platform,
        storage_class=storage_class,
        retention_days=monitoring.prometheus.retention_days,
        volume_size_gib=monitoring.prometheus.volume_size_gib,
        memory_gib=monitoring.prometheus.memory_gib,
        scrape_interval_seconds=monitoring.prometheus.scrape_interval_seconds,
        secret_store_name=secret_store_name,
        grafana_admin_remote_key=f"{secret_prefix}{monitoring.grafana_admin_secret}",
        receivers=ReceiverCredentials(
            remote_key=f"{secret_prefix}{monitoring.alerting.receivers_secret}",
            secret_name=routing.secret_name,
            keys=tuple(routing.secret_keys.values()),
        ),
        alertmanager_config=alertmanager_config(routing),
        rule_groups=rule_groups(config, platform),
        scrape_targets=scrape_targets(platform, sorted(config.kubernetes.namespaces)),
        dashboards=dashboards(include_email_platform=bool(monitoring.email_workloads)),
        runbook_base_url=monitoring.runbook_base_url,
        peer_data_sources=view.peer_data_sources,
        internal_endpoint=view.internal_endpoint,
        high_availability=config.kubernetes.high_availability,
        after=after,
        labels={"project": config.name, "environment": config.environment},
    )


def rule_groups(config: PlatformConfig, platform: Platform) -> dict[str, list[dict[str, Any]]]:
    """PrometheusRule name -> groups for one cluster: the documents' alerts for the workloads it
    runs (BackendServiceDown's `absent(up)` would fire for one it does not), and the SLOs of
    those of them the ingress routes make public."""
    monitoring = config.monitoring
    placed = {name: workload for name, workload in config.workloads.items() if platform in workload.placement}
    public = {
        route.service.partition("/")[2] for routes in config.kubernetes.ingress.routes.values() for route in routes
    }
    slo = monitoring.slo
    return {
        "document-alerts": document_rule_groups(
            runbook_base_url=monitoring.runbook_base_url,
            workloads=[
                WatchedWorkload(name, workload.namespace, workload.team, app_metrics=workload.metrics is not None)
                for name, workload in placed.items()
            ],
            email_workloads=[name for name in monitoring.email_workloads if name in placed],
        ),
        "slo": slo_rule_groups(
            [
                SloTarget(
                    workload=name,
                    namespace=workload.namespace,
                    team=workload.team,
                    availability=slo.availability,
                    latency_threshold_ms=slo.latency_threshold_ms,
                    latency_objective=slo.latency_objective,
                )
                for name, workload in placed.items()
                if name in public
            ],
            runbook_base_url=monitoring.runbook_base_url,
            period_days=slo.period_days,
            cluster=platform,
        ),
    }


def _routing(config: PlatformConfig) -> AlertRoutingSpec:
    """The email-platform ops guide's tree with the stack's addresses; timings are the guide's."""
    routing = config.monitoring.alerting
    return AlertRoutingSpec(
        smtp_smarthost=routing.smtp_smarthost,
        smtp_from=str(routing.smtp_from),
        smtp_username=routing.smtp_username,
        oncall_email=str(routing.oncall_email),
        oncall_slack_channel=routing.oncall_slack_channel,
        default_email=str(routing.default_email),
        team_emails={team: str(address) for team, address in routing.team_emails.items()},
        secret_name=RECEIVERS_SECRET,
    )


@dataclass
class PostgresBackups:
    """The AWS side of the RDS primary's nightly dump and weekly restore drill (DatabaseBackups)."""

    target: PostgresTarget
    """Required: the RDS primary, the dump role (`user`) and its password's name in the store."""
    engine_major_version: int
    """Required: RDS's PostgreSQL major (the jobs' image)."""
    bucket_name: pulumi.Input[str]
    """Required: the backup bucket."""
    writer_role_arn: pulumi.Input[str]
    """Required: the dump's write-only IRSA role."""
    reader_role_arn: pulumi.Input[str]
    """Required: the drill's read-only IRSA role."""
    region: str
    """Required: the bucket's region."""
    database_cidrs: list[str]
    """Required: RDS's subnets (the only PostgreSQL egress)."""
    namespace: str
    """Required: the namespace both roles trust."""
    dump_service_account: str
    """Required: the writer role's service account."""
    drill_service_account: str
    """Required: the reader role's service account."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """The password's secret version. Default none."""


@dataclass
class DataStoreMonitoring:
    """The data stores beside EKS: what its exporters watch (the RDS and ElastiCache primaries and the
    credentials they read) and how the RDS primary is backed up."""

    postgres: PostgresTarget
    """Required: the RDS primary and the monitoring role's password in the store."""
    redis: RedisTarget
    """Required: the ElastiCache primary and its AUTH token in the store."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """The secret versions the ExternalSecrets read. Default none."""
    backups: PostgresBackups | None = None
    """The nightly dump and the restore drill. Default none."""


def build_observability(
    config: PlatformConfig,
    cluster_name: str,
    platform: Platform,
    *,
    secret_store_name: pulumi.Input[str],
    secret_prefix: str,
    view: CrossCloudView,
    data_stores: DataStoreMonitoring | None,
    after: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> MonitoringStack:
    """One cluster's monitoring and logging: the encrypted StorageClass, kube-prometheus-stack with
    the platform's rules, scrape targets, dashboards and routing, prometheus-adapter for the HPAs'
    `requests_per_second`, the data stores' exporters (EKS, beside them) and the ELK stack."""
    storage = EncryptedStorage(f"{cluster_name}-encrypted-storage", EncryptedStorageArgs(platform=platform), opts)
    monitoring = MonitoringStack(
        f"{cluster_name}-monitoring",
        monitoring_args(
            config,
            platform,
            storage_class=storage.storage_class,
            secret_store_name=secret_store_name,
            secret_prefix=secret_prefix,
            view=view,
            after=after,
        ),
        opts=opts,
    )
    highly_available = config.kubernetes.high_availability
    MetricsAdapter(
        f"{cluster_name}-metrics-adapter",
        MetricsAdapterArgs(
            namespace=monitoring.namespace,
            prometheus_url=PROMETHEUS_SERVICE,
            high_availability=highly_available,
            # cert-manager issues its APIService certificate; Prometheus answers its queries.
            after=[*after, monitoring.ready],
        ),
        opts=opts,
    )
    if data_stores is not None:
        DataStoreExporters(
            f"{cluster_name}-exporters",
            DataStoreExportersArgs(
                namespace=monitoring.namespace,
                secret_store_name=secret_store_name,
                postgres=data_stores.postgres,
                redis=data_stores.redis,
                after=[monitoring.ready, *after, *data_stores.after],
            ),
            opts=opts,
        )
        if data_stores.backups is not None:
            backups = data_stores.backups
            DatabaseBackups(
                f"{cluster_name}-backups",
                DatabaseBackupsArgs(
                    host=backups.target.host,
                    port=backups.target.port,
                    database=backups.target.database,
                    user=backups.target.user,
                    password_remote_key=backups.target.password_remote_key,
                    ca_certificate=backups.target.ca_certificate,
                    engine_major_version=backups.engine_major_version,
                    bucket_name=backups.bucket_name,
                    writer_role_arn=backups.writer_role_arn,
                    reader_role_arn=backups.reader_role_arn,
                    region=backups.region,
                    secret_store_name=secret_store_name,
                    database_cidrs=backups.database_cidrs,
                    namespace=backups.namespace,
                    dump_service_account=backups.dump_service_account,
                    drill_service_account=backups.drill_service_account,
                    after=[*after, *backups.after],
                    labels={"project": config.name, "environment": config.environment},
                ),
                opts=opts,
            )
    logging = config.logging
    LoggingStack(
        f"{cluster_name}-logging",
        LoggingStackArgs(
            storage_class=STORAGE_CLASS,
            # Fluent Bit on every node, the tainted pools' too.
            tolerations=[
                {"key": t.key, "value": t.value, "operator": "Equal", "effect": t.effect}
                for pool in POOL_CLUSTERS
                if platform in POOL_CLUSTERS[pool]
                for t in POOL_PLACEMENT[pool][1]
            ],
            retention_days=logging.retention_days,
            elasticsearch_nodes=logging.elasticsearch.nodes,
            elasticsearch_memory_gib=logging.elasticsearch.memory_gib,
            storage_gib=logging.elasticsearch.storage_gib,
            # Elasticsearch and Kibana on the general pool, never a dedicated one.
            node_selector=POOL_PLACEMENT["general"][0],
            kibana_count=2 if highly_available else 1,
            after=[storage, *after],
            labels={"project": config.name, "environment": config.environment},
        ),
        opts=opts,
    )
    return monitoring
