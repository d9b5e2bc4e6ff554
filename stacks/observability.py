"""What watches one cluster, from the stack's config: the MonitoringStack's arguments (its
alert rules, SLOs, scrape targets, dashboards and Alertmanager routing) and how both clouds
are seen in one Grafana.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes.istio_mesh import Platform
from components.kubernetes.monitoring_stack import InternalEndpoint, MonitoringStackArgs, ReceiverCredentials
from components.kubernetes.observability.alertmanager_config import AlertRoutingSpec, alertmanager_config
from components.kubernetes.observability.dashboards import dashboards
from stacks.config.models import PlatformConfig

# The Kubernetes Secret (in monitoring) holding the receivers' credentials, mounted by Alertmanager.
RECEIVERS_SECRET = "alertmanager-receivers"


@dataclass
class CrossCloudView:
    """How one cluster's monitoring takes part in the view of both clouds."""

    internal_endpoint: InternalEndpoint | None = None
    """Its Prometheus served to the other cloud. Default None."""
    peer_data_sources: list[dict[str, Any]] = field(default_factory=list)
    """The other cloud's Prometheus as a Grafana data source. Default none."""


def cross_cloud_views(
    config: PlatformConfig, gke_address_name: pulumi.Input[str], gke_address: pulumi.Input[str]
) -> dict[str, CrossCloudView]:
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
            internal_endpoint=InternalEndpoint(
                address_name=gke_address_name, source_ranges=[str(config.aws.network.vpc_cidr)]
            )
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
        dashboards=dashboards(include_email_platform=monitoring.email_platform_alerts),
        runbook_base_url=monitoring.runbook_base_url,
        peer_data_sources=view.peer_data_sources,
        internal_endpoint=view.internal_endpoint,
        high_availability=config.kubernetes.high_availability,
        after=after,
        labels={"project": config.name, "environment": config.environment},
    )


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
