"""What watches one cluster, from the stack's config: the MonitoringStack's arguments (its
alert rules, SLOs, scrape targets, dashboards and Alertmanager routing) and the encrypted
StorageClass its volumes and Elasticsearch's use.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.istio_mesh import Platform
from components.kubernetes.monitoring_stack import InternalEndpoint, MonitoringStackArgs, ReceiverCredentials
from stacks.config.models import PlatformConfig

# The encrypted StorageClass every stateful add-on asks for by name.
ENCRYPTED_STORAGE_CLASS = "encrypted"


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


def encrypted_storage_class(
    resource_name: str, platform: Platform, opts: pulumi.ResourceOptions
) -> kubernetes.storage.v1.StorageClass:
    """gp3 on EKS (EBS CSI, `encrypted: "true"`, the account's aws/ebs key: the CSI driver's
    managed policy covers it), pd-balanced on GKE (Persistent Disks are always encrypted at
    rest with Google-managed keys). Both bind in the pod's zone (WaitForFirstConsumer), so a
    volume is never created in a zone its pod cannot run in, and both grow in place."""
    if platform == "eks":
        provisioner, parameters = (
            "ebs.csi.aws.com",
            {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        )
    else:
        provisioner, parameters = "pd.csi.storage.gke.io", {"type": "pd-balanced"}
    return kubernetes.storage.v1.StorageClass(
        resource_name,
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=ENCRYPTED_STORAGE_CLASS),
        provisioner=provisioner,
        parameters=parameters,
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        # Metrics and logs are rebuilt from scratch more cheaply than they are kept by hand:
        # a deleted claim releases its disk.
        reclaim_policy="Delete",
        opts=opts,
    )


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
            secret_name="alertmanager-receivers",
            keys=("smtp-password", "slack-webhook-url", "pagerduty-routing-key"),
        ),
        alertmanager_config=_alertmanager_config(config),
        runbook_base_url=monitoring.runbook_base_url,
        peer_data_sources=view.peer_data_sources,
        internal_endpoint=view.internal_endpoint,
        high_availability=config.kubernetes.high_availability,
        after=after,
        labels={"project": config.name, "environment": config.environment},
    )


def _alertmanager_config(config: PlatformConfig) -> dict[str, Any]:
    routing = config.monitoring.alerting
    return {
        "route": {"receiver": "default", "group_by": ["alertname", "cluster", "service"]},
        "receivers": [{"name": "default", "email_configs": [{"to": routing.default_email}]}],
    }
