"""Grafana dashboards as code: the platform overview (both clouds), the SLOs, one per data store and
the email-platform ops guide's overview, as {file name: dashboard model}. MonitoringStack puts each in
a ConfigMap the chart's dashboard sidecar provisions.

Every query filters on the `cluster` variable and reads the `datasource` variable (see _panels), and
names only metrics of metric_catalogue (a test checks it). Label names follow the issue's metric label
contract: Istio's standard labels, `job` per exporter or workload.
"""

from typing import Any

from components.kubernetes.observability._panels import (
    CLUSTER,
    Grid,
    across_data_sources,
    dashboard,
    piechart,
    query_variable,
    stat,
    timeseries,
)

# The mesh's ingress gateway workload on both clusters; what it sends is what the front door
# (Cloudflare's load balancer) delivered to that cluster.
GATEWAY_WORKLOAD = "istio-ingressgateway"
# Each cluster's Prometheus as Grafana knows it (stacks/observability.py): the local one is
# `prometheus-<cluster>`, and EKS's Grafana also has GKE's. On GKE's Grafana, the eks series of
# a comparison is empty: AWS is not visible from GCP, by design.
CLUSTER_DATA_SOURCES = {"eks": "prometheus-eks", "gke": "prometheus-gke"}
RATE = "$__rate_interval"

_CLUSTER_VARIABLE = query_variable("cluster", "Cluster", "label_values(up, cluster)")
_SERVER = f'reporter="destination",{CLUSTER}'
_WORKLOAD = f'{_SERVER},destination_workload=~"$workload"'

_GOOD_HIGH = [("red", None), ("orange", 0.5), ("green", 0.9)]
_GOOD_LOW = [("green", None), ("orange", 0.7), ("red", 0.9)]
_UP = [("red", None), ("green", 1)]


def platform_overview() -> dict[str, Any]:
    g = Grid()
    by = "cluster, destination_workload"
    requests = f"sum by ({by}) (rate(istio_requests_total{{{_WORKLOAD}}}[{RATE}]))"
    errors = f'sum by ({by}) (rate(istio_requests_total{{{_WORKLOAD},response_code=~"5.."}}[{RATE}]))'
    # The clusters' Prometheus servers share no store: the comparisons query each one's data source.
    front_door = f'sum(rate(istio_requests_total{{reporter="source",source_workload="{GATEWAY_WORKLOAD}"}}[{RATE}]))'
    served = f'sum(rate(istio_requests_total{{reporter="destination"}}[{RATE}]))'
    panels = [
        across_data_sources(
            stat(g, "Requests per cluster", "Requests each cluster's workloads served (Istio, server side).",
                 [(served, "")], "reqps", [("blue", None)], w=8, h=8),
            served, CLUSTER_DATA_SOURCES),
        across_data_sources(
            piechart(g, "Front door split", f"Requests each cluster's {GATEWAY_WORKLOAD} forwarded: the share Cloudflare's load balancer sends each cloud.",
                     [(front_door, "")]),
            front_door, CLUSTER_DATA_SOURCES),
        across_data_sources(
            timeseries(g, "Front door split over time", "The same split as shares of the total over time.",
                       [(front_door, "")], "percentunit", w=8, stacking="percent"),
            front_door, CLUSTER_DATA_SOURCES),
        timeseries(g, "Request rate", "Requests per second per workload.", [(requests, "{{cluster}} {{destination_workload}}")], "reqps", w=8),
        # A ratio of 5xx to all requests, not the HEAL7 design's raw rate of errors.
        timeseries(g, "Error ratio (5xx)", "Share of requests answered 5xx; the SLO allows 0.1 % (the HEAL7 design's 99.9 %).",
                   [(f"{errors} / {requests}", "{{cluster}} {{destination_workload}}")], "percentunit",
                   w=8, thresholds=[("green", None), ("red", 0.001)]),
        timeseries(g, "Latency p95", "95th percentile of request duration; the HEAL7 design's target is < 500 ms.",
                   [(f"histogram_quantile(0.95, sum by ({by}, le) (rate(istio_request_duration_milliseconds_bucket{{{_WORKLOAD}}}[{RATE}])))",
                     "{{cluster}} {{destination_workload}}")], "ms", w=8, thresholds=[("green", None), ("red", 500)]),
        timeseries(g, "Node CPU utilisation", "Busy share of each node's CPUs (node-exporter).",
                   [(f'1 - avg by (cluster, instance) (rate(node_cpu_seconds_total{{job="node-exporter",mode="idle",{CLUSTER}}}[{RATE}]))',
                     "{{cluster}} {{instance}}")], "percentunit", w=8, thresholds=[("green", None), ("red", 0.8)]),
        timeseries(g, "Node memory utilisation", "Share of each node's memory not available (node-exporter).",
                   [(f'1 - node_memory_MemAvailable_bytes{{job="node-exporter",{CLUSTER}}} / node_memory_MemTotal_bytes{{job="node-exporter",{CLUSTER}}}',
                     "{{cluster}} {{instance}}")], "percentunit", w=8, thresholds=[("green", None), ("red", 0.85)]),
        timeseries(g, "CPU requested of allocatable", "Scheduling saturation: what pods request of what nodes offer (kube-state-metrics).",
                   [(f'sum by (cluster) (kube_pod_container_resource_requests{{resource="cpu",{CLUSTER}}}) / sum by (cluster) (kube_node_status_allocatable{{resource="cpu",{CLUSTER}}})',
                     "{{cluster}} cpu"),
                    (f'sum by (cluster) (kube_pod_container_resource_requests{{resource="memory",{CLUSTER}}}) / sum by (cluster) (kube_node_status_allocatable{{resource="memory",{CLUSTER}}})',
                     "{{cluster}} memory")], "percentunit", w=8),
    ]  # fmt: skip
    workload = query_variable(
        "workload", "Workload", 'label_values(istio_requests_total{reporter="destination"}, destination_workload)'
    )
    return dashboard("platform-overview", "Platform overview", ["platform"], panels, [_CLUSTER_VARIABLE, workload])


def _burn(window: str) -> str:
    # Burn rate = the window's error ratio / the error budget (1 - objective), per SLO.
    on = "on (cluster, namespace, service, slo)"
    return f'slo:sli_error:ratio_rate{window}{{slo=~"$slo",{CLUSTER}}} / {on} slo:error_budget:ratio{{slo=~"$slo",{CLUSTER}}}'


def slo_overview() -> dict[str, Any]:
    g = Grid()
    sel = f'{{slo=~"$slo",{CLUSTER}}}'
    panels = [
        stat(g, "Error budget remaining (30 d)", "Share of the 30-day error budget left; 0 or below means the SLO is broken.",
             [(f"slo:period_error_budget_remaining:ratio{sel}", "{{cluster}} {{slo}}")], "percentunit",
             [("red", None), ("orange", 0.25), ("green", 0.5)], w=12, h=8, kind="bargauge"),
        stat(g, "Current burn rate", "How fast the budget burns now (5 m); 1 spends it exactly in 30 days, 14.4 pages.",
             [(f"slo:current_burn_rate:ratio{sel}", "{{cluster}} {{slo}}")], "none",
             [("green", None), ("orange", 1), ("red", 14.4)], w=12, h=8, kind="bargauge"),
        # The SRE workbook's windows and thresholds, drawn where the alerts fire: 14.4 and 6 page,
        # 3 and 1 open a ticket.
        timeseries(g, "Burn rates (page windows)", "1 h and 6 h burn; 1 h > 14.4 (with 5 m) or 6 h > 6 (with 30 m) pages.",
                   [(_burn(w), f"{{{{slo}}}} {w}") for w in ("5m", "30m", "1h", "6h")], "none",
                   thresholds=[("green", None), ("orange", 6), ("red", 14.4)]),
        timeseries(g, "Burn rates (ticket windows)", "1 d and 3 d burn; 1 d > 3 (with 2 h) or 3 d > 1 (with 6 h) opens a ticket.",
                   [(_burn(w), f"{{{{slo}}}} {w}") for w in ("2h", "1d", "3d")], "none",
                   thresholds=[("green", None), ("orange", 1), ("red", 3)]),
        timeseries(g, "SLI error ratio (30 d) vs budget", "The period's error ratio against the budget the objective allows.",
                   [(f"slo:sli_error:ratio_rate30d{sel}", "{{slo}} errors"), (f"slo:error_budget:ratio{sel}", "{{slo}} budget")],
                   "percentunit", w=12),
        stat(g, "Objectives", "Each SLO's objective (the HEAL7 design: 99.9 % available, 95 % under 500 ms).",
             [(f"slo:objective:ratio{sel}", "{{slo}}")], "percentunit", [("blue", None)], w=12, h=8),
    ]  # fmt: skip
    slo = query_variable("slo", "SLO", "label_values(slo:objective:ratio, slo)")
    return dashboard("platform-slos", "Service level objectives", ["platform", "slo"], panels, [_CLUSTER_VARIABLE, slo])


def postgresql() -> dict[str, Any]:
    g = Grid()
    pg = f'job="postgres-exporter",{CLUSTER}'
    per_db = f'{pg},datname!~"template.*|rdsadmin"'
    panels = [
        stat(g, "Up", "Whether postgres-exporter reaches the RDS primary.", [(f"pg_up{{{pg}}}", "{{cluster}}")], "none", _UP),
        # Against max_connections, not a fixed 80 (the HEAL7 design's DatabaseConnectionHigh).
        stat(g, "Connections of max_connections", "Backends in use of the server's max_connections.",
             [(f"sum by (cluster) (pg_stat_activity_count{{{pg}}}) / max by (cluster) (pg_settings_max_connections{{{pg}}})", "{{cluster}}")],
             "percentunit", _GOOD_LOW, w=6),
        stat(g, "Longest transaction", "Age of the oldest open transaction (blocks vacuum when long).",
             [(f"max by (cluster) (pg_stat_activity_max_tx_duration{{{pg}}})", "{{cluster}}")], "s",
             [("green", None), ("orange", 60), ("red", 300)], w=6),
        stat(g, "Database size", "Size of each database.", [(f"pg_database_size_bytes{{{per_db}}}", "{{datname}}")], "bytes",
             [("blue", None)], w=6),
        timeseries(g, "Connections by state", "Backends per state (active, idle, idle in transaction).",
                   [(f"sum by (cluster, state) (pg_stat_activity_count{{{pg}}})", "{{cluster}} {{state}}")], "short"),
        timeseries(g, "Transactions", "Commits and rollbacks per second.",
                   [(f"sum by (cluster) (rate(pg_stat_database_xact_commit{{{per_db}}}[{RATE}]))", "{{cluster}} commit"),
                    (f"sum by (cluster) (rate(pg_stat_database_xact_rollback{{{per_db}}}[{RATE}]))", "{{cluster}} rollback")], "ops"),
        timeseries(g, "Cache hit ratio", "Blocks found in shared buffers of all blocks read.",
                   [(f"sum by (cluster, datname) (rate(pg_stat_database_blks_hit{{{per_db}}}[{RATE}])) / (sum by (cluster, datname) (rate(pg_stat_database_blks_hit{{{per_db}}}[{RATE}])) + sum by (cluster, datname) (rate(pg_stat_database_blks_read{{{per_db}}}[{RATE}])))",
                     "{{cluster}} {{datname}}")], "percentunit"),
        # The email-platform ops guide's slow-query signal: time spent reading and writing blocks.
        timeseries(g, "Block I/O time", "Milliseconds per second spent reading and writing blocks (the ops guide's PostgreSQLSlowQueries).",
                   [(f"sum by (cluster, datname) (rate(pg_stat_database_blk_read_time{{{per_db}}}[{RATE}]) + rate(pg_stat_database_blk_write_time{{{per_db}}}[{RATE}]))",
                     "{{cluster}} {{datname}}")], "ms"),
        timeseries(g, "Deadlocks and locks", "Deadlocks per second and locks held by mode.",
                   [(f"sum by (cluster) (rate(pg_stat_database_deadlocks{{{per_db}}}[{RATE}]))", "{{cluster}} deadlocks"),
                    (f"sum by (cluster, mode) (pg_locks_count{{{pg}}})", "{{cluster}} {{mode}}")], "short"),
        # Seen from the primary: a slot's retained WAL (restart_lsn behind the current WAL, which fills
        # RDS storage when the reader stalls) and a streaming replica's lag.
        timeseries(g, "Replication: WAL behind", "WAL each replication slot retains and each streaming replica has not replayed.",
                   [(f"pg_replication_slots_pg_wal_lsn_diff{{{pg}}}", "{{cluster}} slot {{slot_name}}"),
                    (f"pg_stat_replication_pg_wal_lsn_diff{{{pg}}}", "{{cluster}} {{application_name}}")], "bytes"),
    ]  # fmt: skip
    return dashboard(
        "platform-postgresql", "PostgreSQL (RDS primary)", ["platform", "database"], panels, [_CLUSTER_VARIABLE]
    )


def redis() -> dict[str, Any]:
    g = Grid()
    rd = f'job="redis-exporter",{CLUSTER}'
    panels = [
        stat(g, "Up", "Whether redis-exporter reaches ElastiCache.", [(f"redis_up{{{rd}}}", "{{cluster}}")], "none", _UP),
        stat(g, "Memory of maxmemory", "Used memory of the configured maximum (the ops guide's RedisHighMemoryUsage at 90 %).",
             [(f"redis_memory_used_bytes{{{rd}}} / redis_memory_max_bytes{{{rd}}}", "{{cluster}}")], "percentunit", _GOOD_LOW),
        stat(g, "Clients of maxclients", "Connected clients of the configured maximum.",
             [(f"redis_connected_clients{{{rd}}} / redis_max_clients{{{rd}}}", "{{cluster}}")], "percentunit", _GOOD_LOW),
        stat(g, "Hit ratio", "Keyspace hits of all lookups.",
             [(f"rate(redis_keyspace_hits_total{{{rd}}}[{RATE}]) / (rate(redis_keyspace_hits_total{{{rd}}}[{RATE}]) + rate(redis_keyspace_misses_total{{{rd}}}[{RATE}]))",
               "{{cluster}}")], "percentunit", _GOOD_HIGH),
        timeseries(g, "Commands", "Commands processed per second.",
                   [(f"rate(redis_commands_processed_total{{{rd}}}[{RATE}])", "{{cluster}}")], "ops"),
        timeseries(g, "Memory", "Used and maximum memory.",
                   [(f"redis_memory_used_bytes{{{rd}}}", "{{cluster}} used"), (f"redis_memory_max_bytes{{{rd}}}", "{{cluster}} max")], "bytes"),
        timeseries(g, "Evictions and expirations", "Keys evicted for memory (data loss for a cache user) and expired.",
                   [(f"rate(redis_evicted_keys_total{{{rd}}}[{RATE}])", "{{cluster}} evicted"),
                    (f"rate(redis_expired_keys_total{{{rd}}}[{RATE}])", "{{cluster}} expired")], "ops"),
        timeseries(g, "Clients", "Connected and blocked clients, rejected connections per second.",
                   [(f"redis_connected_clients{{{rd}}}", "{{cluster}} connected"), (f"redis_blocked_clients{{{rd}}}", "{{cluster}} blocked"),
                    (f"rate(redis_rejected_connections_total{{{rd}}}[{RATE}])", "{{cluster}} rejected/s")], "short"),
        timeseries(g, "Keys", "Keys per database.", [(f"redis_db_keys{{{rd}}}", "{{cluster}} {{db}}")], "short"),
        timeseries(g, "Network", "Bytes in and out per second.",
                   [(f"rate(redis_net_input_bytes_total{{{rd}}}[{RATE}])", "{{cluster}} in"),
                    (f"rate(redis_net_output_bytes_total{{{rd}}}[{RATE}])", "{{cluster}} out")], "Bps"),
    ]  # fmt: skip
    return dashboard("platform-redis", "Redis (ElastiCache)", ["platform", "cache"], panels, [_CLUSTER_VARIABLE])


def email_platform() -> dict[str, Any]:
    """The email-platform ops guide's "Email Platform Overview", its panels kept and its queries fixed:
    exporters' real job names, rates summed over the pods, quantiles over the summed histogram, and
    the error ratio of 5xx (not 4xx|5xx: a client's bad request is not the service failing)."""
    g = Grid()
    be = f'job="email-backend",{CLUSTER}'
    requests = f"sum by (cluster) (rate(http_requests_total{{{be}}}[{RATE}]))"

    def quantile(q: float) -> str:
        return f"histogram_quantile({q}, sum by (cluster, le) (rate(http_request_duration_seconds_bucket{{{be}}}[{RATE}])))"

    def emails(counter: str) -> str:
        return f"sum by (cluster) (rate({counter}{{{be}}}[{RATE}]))"

    panels = [
        stat(g, "System Overview", "Scrape health of the backend and its data stores' exporters.",
             [(f'up{{job=~"email-backend|postgres-exporter|redis-exporter",{CLUSTER}}}', "{{cluster}} {{job}} {{pod}}")], "none", _UP, w=12, h=8),
        timeseries(g, "Request Rate", "Requests per second by method and status.",
                   [(f"sum by (cluster, method, status) (rate(http_requests_total{{{be}}}[{RATE}]))", "{{cluster}} {{method}} {{status}}")], "reqps"),
        timeseries(g, "Response Time", "Percentiles of the backend's request duration (the ops guide alerts on p95 > 1 s).",
                   [(quantile(0.5), "{{cluster}} p50"), (quantile(0.95), "{{cluster}} p95"), (quantile(0.99), "{{cluster}} p99")], "s"),
        timeseries(g, "Error Rate", "Share of requests answered 5xx (the ops guide's HighErrorRate fires above 5 %).",
                   [(f'sum by (cluster) (rate(http_requests_total{{{be},status=~"5.."}}[{RATE}])) / {requests}', "{{cluster}} 5xx ratio")],
                   "percentunit", thresholds=[("green", None), ("red", 0.05)]),
        timeseries(g, "Email Statistics", "Emails sent, delivered, bounced and failed per second.",
                   [(emails("emails_sent_total"), "{{cluster}} Sent"), (emails("emails_delivered_total"), "{{cluster}} Delivered"),
                    (emails("emails_bounced_total"), "{{cluster}} Bounced"), (emails("emails_failed_total"), "{{cluster}} Failed")], "ops", w=24),
        # The two ratios and the queue the ops guide alerts on, which its dashboard did not show.
        timeseries(g, "Delivery and bounce ratio (1 h)", "Delivered and bounced of sent over an hour (alerts: delivery < 95 %, bounce > 5 %).",
                   [(f"sum by (cluster) (rate(emails_delivered_total{{{be}}}[1h])) / sum by (cluster) (rate(emails_sent_total{{{be}}}[1h]))", "{{cluster}} delivered"),
                    (f"sum by (cluster) (rate(emails_bounced_total{{{be}}}[1h])) / sum by (cluster) (rate(emails_sent_total{{{be}}}[1h]))", "{{cluster}} bounced")],
                   "percentunit"),
        timeseries(g, "Email Queue", "Emails waiting to be sent (alert above 1000 for 10 minutes).",
                   [(f"sum by (cluster) (email_queue_size{{{be}}})", "{{cluster}} queued")], "short", thresholds=[("green", None), ("red", 1000)]),
        timeseries(g, "Database Connections", "Backends per database (pg_stat_database_numbackends).",
                   [(f'pg_stat_database_numbackends{{job="postgres-exporter",{CLUSTER}}}', "{{cluster}} {{datname}}")], "short"),
        timeseries(g, "Redis Memory Usage", "Used memory of maxmemory.",
                   [(f'redis_memory_used_bytes{{job="redis-exporter",{CLUSTER}}} / redis_memory_max_bytes{{job="redis-exporter",{CLUSTER}}}', "{{cluster}} used")],
                   "percentunit", thresholds=[("green", None), ("red", 0.9)]),
    ]  # fmt: skip
    return dashboard(
        "email-platform-overview", "Email Platform Overview", ["email", "platform"], panels, [_CLUSTER_VARIABLE]
    )


def dashboards(include_email_platform: bool = False) -> dict[str, dict[str, Any]]:
    """Every dashboard as {file name: model}; the email platform's only for a stack that runs it."""
    built = {
        "platform-overview.json": platform_overview(),
        "platform-slos.json": slo_overview(),
        "platform-postgresql.json": postgresql(),
        "platform-redis.json": redis(),
    }
    if include_email_platform:
        built["email-platform-overview.json"] = email_platform()
    return built
