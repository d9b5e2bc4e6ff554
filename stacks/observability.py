"""What watches one cluster, from the stack's config: the MonitoringStack's arguments (its
alert rules, SLOs, scrape targets, dashboards and Alertmanager routing) and the encrypted
StorageClass its volumes and Elasticsearch's use.
"""

from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.istio_mesh import Platform
from components.kubernetes.monitoring_stack import MonitoringStackArgs, ReceiverCredentials
from stacks.config.models import PlatformConfig

# The encrypted StorageClass every stateful add-on asks for by name.
ENCRYPTED_STORAGE_CLASS = "encrypted"


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
