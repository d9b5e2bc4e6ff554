"""The `platform:monitoring` and `platform:logging` sections: what watches the platform.

Prometheus, Alertmanager and Grafana (kube-prometheus-stack) and the ELK logging stack run on
both clusters; their sizes differ by tier (stacks/config/tiers.py), their alert routing and
SLO targets are the same everywhere. Receivers' credentials are never config: the SMTP
password, the Slack webhook and the PagerDuty key live in the cloud secret store under
`receiversSecret`, and only their key names appear here.
"""

from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator

from stacks.config.ingress_models import ObjectName
from stacks.config.types import Days, Fraction, Section, SizeGib, StrictInt

# `host:port` of an SMTP relay (Alertmanager's smtp_smarthost).
SmtpSmarthost = Annotated[
    str, StringConstraints(max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$")
]
# A Slack channel as Alertmanager's slack_configs take it.
SlackChannel = Annotated[str, StringConstraints(pattern=r"^#[a-z0-9][a-z0-9_-]{0,79}$")]
HttpsUrl = Annotated[str, StringConstraints(max_length=500, pattern=r"^https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~/-]*)?$")]
# A secret's name under the platform's prefix in Secrets Manager and Secret Manager (the
# stricter of the two: Secret Manager ids are [A-Za-z0-9_-]).
SecretName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
MemoryGib = Annotated[StrictInt, Field(ge=1, le=64)]


class PrometheusConfig(Section):
    """Prometheus on each cluster (tier: size and retention)."""

    retention_days: Annotated[Days, Field(ge=1)] = Field(
        description="Days of samples each Prometheus keeps (tier: 7 dev, 15 staging, 30 prod, the email-platform "
        "ops guide's production retention)."
    )
    volume_size_gib: Annotated[SizeGib, Field(ge=10)] = Field(
        description="Each Prometheus replica's encrypted volume, in GiB (tier: 20 dev, 50 staging, 200 prod)."
    )
    memory_gib: MemoryGib = Field(
        description="Each Prometheus replica's memory request and limit, in GiB (tier: 2 dev, 4 staging, 8 prod)."
    )
    scrape_interval_seconds: Annotated[StrictInt, Field(ge=5, le=300)] = Field(
        default=15, description="Scrape and rule-evaluation interval, in seconds (the HEAL7 design's 15 s)."
    )


class AlertRoutingConfig(Section):
    """Where alerts go (the email-platform ops guide's Alertmanager tree). Addresses only: the
    receivers' credentials are keys of `receiversSecret` in the cloud secret store."""

    smtp_smarthost: SmtpSmarthost = Field(description="The SMTP relay, `host:port` (STARTTLS on 587).")
    smtp_from: EmailStr = Field(description="The sender of alert mail.")
    smtp_username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._%+@-]{1,254}$")] = Field(
        description="The relay's login; its password is the `smtp-password` key of receiversSecret."
    )
    default_email: EmailStr = Field(description="Receives what no team route takes (the ops guide's ops@).")
    oncall_email: EmailStr = Field(description="On-call mail for critical alerts (the ops guide's oncall@).")
    oncall_slack_channel: SlackChannel = Field(
        default="#alerts-critical", description="The Slack channel critical alerts go to (the ops guide's)."
    )
    team_emails: dict[ObjectName, EmailStr] = Field(
        description="Team -> its address; an alert's `team` label picks the route (the ops guide's backend, "
        "database and email teams, and the platform's own).",
        min_length=1,
    )
    receivers_secret: SecretName = Field(
        default="alertmanager-receivers",
        description="The secret under the platform's prefix holding `smtp-password`, `slack-webhook-url` and "
        "`pagerduty-routing-key` (JSON keys); created by the operator before the first `pulumi up`.",
    )


class SloConfig(Section):
    """The service-level objectives every public workload is held to (the HEAL7 design's
    performance targets), each with multi-window, multi-burn-rate alerts."""

    availability: Annotated[Fraction, Field(ge=0.9, lt=1)] = Field(
        default=0.999, description="Fraction of requests answered without a 5xx (the HEAL7 design's 99.9 %)."
    )
    latency_threshold_ms: Annotated[StrictInt, Field(ge=1, le=60000)] = Field(
        default=500, description="The latency a request must beat, in ms (the HEAL7 design's p95 < 500 ms)."
    )
    latency_objective: Annotated[Fraction, Field(ge=0.5, lt=1)] = Field(
        default=0.95, description="Fraction of requests faster than the threshold (p95: 0.95)."
    )
    period_days: Annotated[StrictInt, Field(ge=7, le=90)] = Field(
        default=30,
        description="The error budget's rolling period, in days (the SRE workbook's 30; tier: 7 dev, 14 staging, "
        "at most the Prometheus retention).",
    )


class MonitoringConfig(Section):
    """kube-prometheus-stack, the exporters and the alert routing."""

    prometheus: PrometheusConfig
    alerting: AlertRoutingConfig
    slo: SloConfig = Field(default_factory=SloConfig)
    runbook_base_url: HttpsUrl = Field(
        description="Where docs/runbooks/ of this repository is browsed; every alert's runbook_url starts here."
    )
    grafana_admin_secret: SecretName = Field(
        default="grafana-admin",
        description="The secret under the platform's prefix holding Grafana's `admin-user` and `admin-password`; "
        "created by the operator before the first `pulumi up`.",
    )
    email_workloads: list[ObjectName] = Field(
        default=[],
        description="Workloads exporting the email-platform ops guide's email metrics (email_queue_size, "
        "emails_*_total): they get its three email-queue alerts and the stack its Email Platform Overview "
        "dashboard (the email example's email-backend; default none).",
    )

    @model_validator(mode="after")
    def _platform_team_routed(self) -> "MonitoringConfig":
        # Host, Kubernetes and add-on alerts carry team=platform: they must reach someone.
        if "platform" not in self.alerting.team_emails:
            raise ValueError("alerting.teamEmails: expected an address for team `platform` (host and cluster alerts)")
        return self


class ElasticsearchConfig(Section):
    """Each cluster's Elasticsearch (tier: size)."""

    nodes: Annotated[StrictInt, Field(ge=1, le=9)] = Field(
        description="Nodes (master, data and ingest each), one per zone; 1 or an odd number, so a quorum of "
        "master-eligible nodes survives a zone (tier: 1 dev, 3 staging and prod)."
    )

    @field_validator("nodes")
    @classmethod
    def _odd(cls, nodes: int) -> int:
        if nodes != 1 and nodes % 2 == 0:
            raise ValueError(f"expected 1 or an odd number of nodes (a master quorum), got {nodes}")
        return nodes

    memory_gib: MemoryGib = Field(
        description="Each node's memory request and limit, in GiB; the JVM heap is half (tier: 2 dev, 4 staging "
        "and prod, the HEAL7 design's 4Gi request)."
    )
    storage_gib: Annotated[SizeGib, Field(ge=10)] = Field(
        description="Each node's encrypted volume, in GiB (tier: 20 dev, 50 staging, 100 prod, the HEAL7 design's)."
    )


class LoggingConfig(Section):
    """ECK's Elasticsearch and Kibana and Fluent Bit, on each cluster."""

    retention_days: Annotated[Days, Field(ge=1)] = Field(
        description="Days container logs are kept before the index lifecycle deletes them (tier: 7 dev, 30 staging, "
        "90 prod, the HEAL7 design's 90 days)."
    )
    elasticsearch: ElasticsearchConfig
