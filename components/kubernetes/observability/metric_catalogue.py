"""Which metric names each source provides, so a dashboard or rule that names a metric nobody exports
fails a test instead of drawing an empty panel.

Each source cites where its names were checked: the exporter's source at the version the platform's
charts pin (kube-prometheus-stack 88.5.3 with prometheus-node-exporter 4.56.1 = node_exporter v1.12.1
and kube-state-metrics 8.4.0 = v2.20.0; prometheus-postgres-exporter 8.2.0 = postgres_exporter
v0.20.1; prometheus-redis-exporter 6.29.0 = redis_exporter v1.89.0, see its entry) or the requirement document that
defines them. Only names the platform's dashboards and rules use are listed, not every name a source
exports; a histogram lists the series Prometheus stores (`_bucket`, `_sum`, `_count`).
"""


def _histogram(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}


SOURCES: dict[str, frozenset[str]] = {
    # Prometheus writes `up` for every scrape target itself (Prometheus docs, "Jobs and instances:
    # automatically generated labels and time series").
    "prometheus": frozenset({"up"}),
    # node_exporter v1.12.1: collector/cpu_linux.go (node_cpu_seconds_total, BuildFQName(namespace,
    # "cpu", "seconds_total")), collector/meminfo.go + meminfo_linux.go (node_memory_<field>_bytes from
    # /proc/meminfo's MemAvailable / MemTotal), collector/filesystem_common.go (size_bytes, avail_bytes).
    "node-exporter": frozenset(
        {
            "node_cpu_seconds_total",
            "node_memory_MemAvailable_bytes",
            "node_memory_MemTotal_bytes",
            "node_filesystem_avail_bytes",
            "node_filesystem_size_bytes",
        }
    ),
    # kube-state-metrics v2.20.0: docs/metrics/cluster/node-metrics.md and
    # docs/metrics/workload/pod-metrics.md, deployment-metrics.md.
    "kube-state-metrics": frozenset(
        {
            "kube_node_spec_unschedulable",
            "kube_node_spec_taint",
            "kube_node_status_allocatable",
            "kube_node_status_capacity",
            "kube_pod_container_resource_requests",
            "kube_pod_container_resource_limits",
            "kube_pod_container_status_restarts_total",
            "kube_pod_status_phase",
            "kube_deployment_spec_replicas",
            "kube_deployment_status_replicas_available",
        }
    ),
    # Istio's standard metrics, emitted by every sidecar and gateway (reporter=source|destination):
    # istio/istio release-1.31 istioctl/pkg/metrics/metrics.go (istio_requests_total,
    # istio_request_duration_milliseconds) and manifests/addons/dashboards/lib/queries.libsonnet.
    "istio": frozenset(
        {
            "istio_requests_total",
            *_histogram("istio_request_duration_milliseconds"),
            "istio_tcp_sent_bytes_total",
            "istio_tcp_received_bytes_total",
        }
    ),
    # postgres_exporter v0.20.1 (namespace "pg", collector/collector.go): exporter/postgres_exporter.go
    # (pg_up), collector/pg_stat_database.go, pg_stat_activity.go (count, max_tx_duration),
    # pg_setting.go (pg_settings_<name>: max_connections), pg_database.go (size_bytes), pg_locks.go,
    # pg_replication_slots.go and pg_stat_replication.go (how far a replica reading from the primary
    # lags, seen from the primary).
    "postgres-exporter": frozenset(
        {
            "pg_up",
            "pg_stat_database_numbackends",
            "pg_stat_database_xact_commit",
            "pg_stat_database_xact_rollback",
            "pg_stat_database_blks_read",
            "pg_stat_database_blks_hit",
            "pg_stat_database_deadlocks",
            "pg_stat_database_blk_read_time",
            "pg_stat_database_blk_write_time",
            "pg_stat_activity_count",
            "pg_stat_activity_max_tx_duration",
            "pg_settings_max_connections",
            "pg_database_size_bytes",
            "pg_locks_count",
            "pg_replication_slots_pg_wal_lsn_diff",
            "pg_replication_slots_active",
            "pg_replication_slots_slot_is_active",
            "pg_replication_slots_slot_current_wal_lsn",
            "pg_replication_slots_slot_confirmed_flush_lsn",
            "pg_stat_replication_pg_wal_lsn_diff",
        }
    ),
    # redis_exporter, checked at v1.88.0-3-gcd5941f (the newest source available here; the chart pins
    # v1.89.0), namespace "redis": exporter/exporter.go's metricMapGauges / metricMapCounters
    # (used_memory -> memory_used_bytes, maxmemory -> memory_max_bytes, keyspace_hits -> ..._total, ...)
    # and its metricDescriptions (up, db_keys).
    "redis-exporter": frozenset(
        {
            "redis_up",
            "redis_memory_used_bytes",
            "redis_memory_max_bytes",
            "redis_connected_clients",
            "redis_blocked_clients",
            "redis_max_clients",
            "redis_commands_processed_total",
            "redis_keyspace_hits_total",
            "redis_keyspace_misses_total",
            "redis_evicted_keys_total",
            "redis_expired_keys_total",
            "redis_db_keys",
            "redis_net_input_bytes_total",
            "redis_net_output_bytes_total",
            "redis_rejected_connections_total",
        }
    ),
    # The email backend's own metrics, as the email-platform ops guide's alert rules and Grafana
    # dashboard use them (http_requests_total with `method` and `status`, the request-duration
    # histogram in seconds, the queue gauge and the four email counters).
    "email-backend": frozenset(
        {
            "http_requests_total",
            *_histogram("http_request_duration_seconds"),
            "email_queue_size",
            "emails_sent_total",
            "emails_delivered_total",
            "emails_bounced_total",
            "emails_failed_total",
        }
    ),
    # The SLO recording rules (slo_rules.py), named after Sloth's layout per the SLO contract.
    "slo-recording-rules": frozenset(
        {
            *(f"slo:sli_error:ratio_rate{window}" for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")),
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:period_error_budget_remaining:ratio",
            "slo:current_burn_rate:ratio",
        }
    ),
}


def all_metrics() -> frozenset[str]:
    """Every metric name some source provides."""
    return frozenset().union(*SOURCES.values())


def source_of(metric: str) -> str | None:
    """The source that provides `metric`, or None when none does."""
    return next((source for source, names in SOURCES.items() if metric in names), None)
