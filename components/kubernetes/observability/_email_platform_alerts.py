"""The email-platform ops guide's `email-platform.rules`: host, service, PostgreSQL, Redis and email-queue
alerts, under the guide's names, thresholds, `for` and severities, with its wrong expressions fixed.

On this platform the guide's targets are: node-exporter on every node (`instance` = node name), the
workloads' own series (`job` = `service` = the workload), postgres-exporter for the RDS primary and
redis-exporter for ElastiCache (`job` postgres-exporter / redis-exporter).
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

from ._rule_builder import WatchedWorkload, alert_rule

EMAIL_PLATFORM_GROUP = "email-platform.rules"  # the email-platform ops guide's group name

# A node being drained: cordoned (`kubectl drain`, a managed node group's update, GKE's upgrade) or
# tainted by the cluster autoscaler (GKE's autoscaler uses the same taint) before it removes the node.
# Its pods are being evicted and rescheduled; high CPU, memory or disk there is the drain itself, and the
# node is going away, so the host alerts must not page for it. node-exporter's `instance` is the node
# name, so kube-state-metrics' `node` is copied into `instance` to match.
NODE_BEING_DRAINED = (
    'label_replace(\n  max by (node) (kube_node_spec_unschedulable{job="kube-state-metrics"} == 1)\n'
    '  or max by (node) (kube_node_spec_taint{job="kube-state-metrics", key="ToBeDeletedByClusterAutoscaler"}),\n'
    '  "instance", "$1", "node", "(.+)"\n)'
)
_DRAIN_NOTE = "Silent on a node being drained (cordoned, or tainted ToBeDeletedByClusterAutoscaler)."

# Filesystems that can fill: node-exporter also reports tmpfs, and read-only ones such as GKE's COS
# root (a verified read-only image, always nearly full) on which nothing can be written anyway.
_WRITABLE_FS = 'job="node-exporter", fstype!~"tmpfs|ramfs|squashfs|overlay"'


def email_platform_group(
    base: str, workloads: Sequence[WatchedWorkload], email_workloads: Sequence[WatchedWorkload]
) -> dict[str, Any]:
    rules = _host_rules(base)
    for w in workloads:
        rules += _service_rules(base, w)
    rules += _postgresql_rules(base) + _redis_rules(base)
    for w in email_workloads:
        rules += _email_rules(base, w)
    return {"name": EMAIL_PLATFORM_GROUP, "rules": rules}


def _host_rules(base: str) -> list[dict[str, Any]]:
    host = partial(alert_rule, family="host", team="platform", service="node", runbook_base_url=base)
    cpu = '(1 - avg by (instance) (rate(node_cpu_seconds_total{job="node-exporter", mode="idle"}[5m]))) * 100'
    memory = (
        '(1 - node_memory_MemAvailable_bytes{job="node-exporter"} / node_memory_MemTotal_bytes{job="node-exporter"})'
        " * 100"
    )
    disk = f"node_filesystem_avail_bytes{{{_WRITABLE_FS}}} / node_filesystem_size_bytes{{{_WRITABLE_FS}}} * 100"
    writable = 'on (instance, device, mountpoint) node_filesystem_readonly{job="node-exporter"} == 0'
    return [
        host(
            "HighCPUUsage",
            expr=f"({cpu} > 80)\nunless on (instance)\n{NODE_BEING_DRAINED}",
            for_="5m",  # the email-platform ops guide's 80 % for 5 minutes
            severity="warning",
            summary="High CPU usage detected",
            description=(
                "CPU usage on {{ $labels.instance }} is {{ $value | humanize }} % (above 80 % for more than "
                f"5 minutes). {_DRAIN_NOTE}"
            ),
        ),
        host(
            "HighMemoryUsage",
            expr=f"({memory} > 85)\nunless on (instance)\n{NODE_BEING_DRAINED}",
            for_="5m",  # the email-platform ops guide's 85 % for 5 minutes
            severity="warning",
            summary="High memory usage detected",
            description=(
                "Memory usage on {{ $labels.instance }} is {{ $value | humanize }} % (above 85 % for more than "
                f"5 minutes). {_DRAIN_NOTE}"
            ),
        ),
        host(
            "DiskSpaceLow",
            # The guide watches mountpoint="/" only: on GKE's COS nodes "/" is the read-only system
            # image and the kubelet's and containerd's data live on /mnt/stateful_partition, so every
            # writable filesystem is watched instead.
            expr=f"({disk} < 10 and {writable})\nunless on (instance)\n{NODE_BEING_DRAINED}",
            for_="5m",  # the email-platform ops guide's
            severity="critical",  # the email-platform ops guide's: a full disk evicts every pod of the node
            summary="Disk space is running low",
            description=(
                "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanize }} % free (below "
                "10 %). Every writable filesystem is watched, not only / as in the email-platform ops guide: "
                f"on GKE's COS nodes / is the read-only system image. {_DRAIN_NOTE}"
            ),
        ),
    ]


def _service_rules(base: str, w: WatchedWorkload) -> list[dict[str, Any]]:
    svc = partial(alert_rule, family="workloads", team=w.team, service=w.name, runbook_base_url=base)
    job = f'job="{w.name}"'
    rules = [
        svc(
            "BackendServiceDown",
            # The guide's `up{job="email-backend"} == 0` pages for one lost pod of three, which its
            # ReplicaSet replaces on its own: the service is down when no pod answers, or when none is
            # left to scrape at all (scaled to zero, every pod evicted and unschedulable).
            expr=f"max by (job) (up{{{job}}}) == 0\nor\nabsent(up{{{job}}})",
            for_="1m",  # the email-platform ops guide's
            severity="critical",
            summary=f"{w.name} is down",
            description=(
                f"No pod of {w.namespace}/{w.name} has answered Prometheus' scrape for more than 1 minute, "
                "or none is left to scrape. One failing pod of several does not fire this: its ReplicaSet "
                "replaces it (unlike the email-platform ops guide's per-pod up == 0)."
            ),
        ),
    ]
    if not w.app_metrics:
        return rules
    return [
        *rules,
        svc(
            "HighBackendResponseTime",
            # The guide's histogram_quantile over the unaggregated rate computes one p95 per pod and
            # route (and fails without the `le` grouping once series carry more labels): the buckets are
            # summed over the workload first, so the p95 is the service's.
            expr=(
                f"histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket{{{job}}}[5m])))"
                "\n> 1"
            ),
            for_="5m",  # the email-platform ops guide's 1 s for 5 minutes
            severity="warning",
            summary=f"High response time on {w.name}",
            description=(
                f"The 95th percentile response time of {w.namespace}/{w.name} is {{{{ $value | humanize }}}}s, "
                "above 1 second for 5 minutes (its http_request_duration_seconds histogram, all pods together)."
            ),
        ),
        svc(
            "HighErrorRate",
            # The guide divides rate(...{status=~"5.."}) by rate(...) series by series: each 5xx series
            # is matched with itself (same labels), so any 5xx at all gives 1 > 0.05. Summing both
            # sides over the workload makes it the share of 5xx among all requests.
            expr=(
                f'sum by (job) (rate(http_requests_total{{{job}, status=~"5.."}}[5m]))\n'
                f"/\nsum by (job) (rate(http_requests_total{{{job}}}[5m]))\n> 0.05"
            ),
            for_="5m",  # the email-platform ops guide's 5 % for 5 minutes
            severity="warning",
            summary=f"High error rate detected on {w.name}",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the requests to {w.namespace}/{w.name} answered 5xx "
                "in the last 5 minutes (above 5 % for 5 minutes). Fixed from the email-platform ops guide, "
                "whose series-by-series division matched each 5xx series with itself and fired on any 5xx."
            ),
        ),
    ]


def _postgresql_rules(base: str) -> list[dict[str, Any]]:
    pg = partial(alert_rule, family="postgresql", team="database", service="postgresql", runbook_base_url=base)
    exporter = 'job="postgres-exporter"'
    return [
        pg(
            "PostgreSQLDown",
            expr=f"pg_up{{{exporter}}} == 0",
            for_="1m",  # the email-platform ops guide's
            severity="critical",
            summary="PostgreSQL is down",
            description="postgres-exporter has not reached the PostgreSQL primary for more than 1 minute.",
        ),
        pg(
            "PostgreSQLTooManyConnections",
            # The guide divides pg_stat_database_numbackends (one series per database: datid, datname)
            # by pg_settings_max_connections (one per instance): the label sets never match, so its
            # alert could never fire. The databases' backends are summed to the instance first.
            expr=(
                f"sum without (datid, datname) (pg_stat_database_numbackends{{{exporter}}})\n"
                f"/\npg_settings_max_connections{{{exporter}}} * 100\n> 80"
            ),
            for_="5m",  # the email-platform ops guide's 80 % for 5 minutes
            severity="warning",
            summary="PostgreSQL too many connections",
            description=(
                "PostgreSQL connections are at {{ $value | humanize }} % of max_connections (above 80 % for "
                "5 minutes), all databases together. Fixed from the email-platform ops guide, whose "
                "per-database numerator never matched the instance's max_connections and could not fire."
            ),
        ),
        pg(
            "PostgreSQLSlowQueries",
            # The guide adds rate(pg_stat_database_blk_read_time) and blk_write_time: milliseconds spent
            # reading and writing blocks (and 0 unless track_io_timing is on), not query time. The
            # average query time needs pg_stat_statements, a collector postgres_exporter v0.20 leaves
            # off by default; its default stat_activity collector's pg_stat_activity_max_tx_duration
            # (seconds the oldest transaction has run, per state) is used: a client transaction still
            # executing after 60 s, in a database serving requests whose p95 target is 500 ms (the
            # HEAL7 design), is a stuck query, a lock wait or a missing index.
            expr=(
                "max without (state, usename, application_name, backend_type, wait_event_type, wait_event) "
                f'(pg_stat_activity_max_tx_duration{{{exporter}, state="active", backend_type="client backend"}})'
                "\n> 60"
            ),
            for_="5m",  # the email-platform ops guide's
            severity="warning",
            summary="PostgreSQL slow queries detected",
            description=(
                "A transaction running a statement in {{ $labels.datname }} has been active for "
                "{{ $value | humanize }}s (over 60 s, for 5 minutes). Fixed from the email-platform ops guide, "
                "whose blk_read_time + blk_write_time measured block I/O time, not query time; this is "
                "postgres_exporter's pg_stat_activity_max_tx_duration of active client backends."
            ),
        ),
    ]


def _redis_rules(base: str) -> list[dict[str, Any]]:
    cache = partial(alert_rule, family="redis", team="cache", service="redis", runbook_base_url=base)
    exporter = 'job="redis-exporter"'
    return [
        cache(
            "RedisDown",
            expr=f"redis_up{{{exporter}}} == 0",
            for_="1m",  # the email-platform ops guide's
            severity="critical",
            summary="Redis is down",
            description="redis-exporter has not reached the ElastiCache primary for more than 1 minute.",
        ),
        cache(
            "RedisHighMemoryUsage",
            # redis_memory_max_bytes is INFO's maxmemory, 0 on a Redis without a limit: the guide's
            # division then gives +Inf and fires. ElastiCache sets maxmemory per node type; a 0 is
            # kept out of the division (`> 0` drops the series) instead of firing.
            expr=(f"redis_memory_used_bytes{{{exporter}}}\n/\n(redis_memory_max_bytes{{{exporter}}} > 0) * 100\n> 90"),
            for_="5m",  # the email-platform ops guide's 90 % for 5 minutes
            severity="warning",
            summary="Redis high memory usage",
            description=(
                "Redis uses {{ $value | humanize }} % of its maxmemory (above 90 % for 5 minutes); at 100 % it "
                "evicts keys or refuses writes, per its maxmemory-policy. A Redis reporting no maxmemory (0) "
                "is not divided by."
            ),
        ),
    ]


def _email_rules(base: str, w: WatchedWorkload) -> list[dict[str, Any]]:
    email = partial(alert_rule, family="email", team="email", service=w.name, runbook_base_url=base)
    job = f'job="{w.name}"'

    # The guide's ratios divide series by series; delivery and bounce events arrive through the
    # provider's webhooks at any pod, not the pod that sent the email, so both sides are summed over
    # the workload before dividing.
    def ratio(numerator: str) -> str:
        return f"sum by (job) (rate({numerator}{{{job}}}[1h]))\n/\nsum by (job) (rate(emails_sent_total{{{job}}}[1h]))"

    return [
        email(
            "EmailQueueSizeHigh",
            expr=f"email_queue_size{{{job}}} > 1000",
            for_="10m",  # the email-platform ops guide's 1000 for 10 minutes
            severity="warning",
            summary="Email queue size is high",
            description=(
                f"{w.name}'s email queue holds {{{{ $value | humanize }}}} messages (above 1000 for more than "
                "10 minutes)."
            ),
        ),
        email(
            "EmailDeliveryRateLow",
            expr=f"{ratio('emails_delivered_total')}\n< 0.95",
            for_="15m",  # the email-platform ops guide's 95 % over the last hour, for 15 minutes
            severity="warning",
            summary="Email delivery rate is low",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the emails {w.name} sent in the last hour were "
                "delivered (below 95 %)."
            ),
        ),
        email(
            "EmailBounceRateHigh",
            expr=f"{ratio('emails_bounced_total')}\n> 0.05",
            for_="15m",  # the email-platform ops guide's 5 % over the last hour, for 15 minutes
            severity="warning",
            summary="Email bounce rate is high",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the emails {w.name} sent in the last hour bounced "
                "(above 5 %)."
            ),
        ),
    ]
