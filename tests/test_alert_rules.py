"""The requirement documents' alerts and the platform's own (the Cloud SQL replica's replication): every
one exists under its name with the labels and annotations Alertmanager and on-call need, passes `promtool check rules`, and is proven by `promtool test
rules` to fire on series that should fire it (exact labels and annotations) and to stay silent on series
that should not, including the cases where the documents' own expressions were wrong.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from components.kubernetes.observability import metric_catalogue
from components.kubernetes.observability._rule_builder import RUNBOOK_FAMILIES, TEAMS
from components.kubernetes.observability.alert_rules import WatchedWorkload, document_rule_groups
from tests import promtool as promtool_helper
from tests.promtool import alert_test, check_rules, expected_alert, rule_for, run_rule_tests, series, write_rule_file

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
BASE = "https://github.com/heal7/multicloud-platform/blob/main/docs/runbooks"
EMAIL_BACKEND = WatchedWorkload("email-backend", "email-platform", team="backend", app_metrics=True)
WEB_MAIN = WatchedWorkload("heal7-web-main", "heal7-production", team="backend", app_metrics=True)

# The names the documents give (the HEAL7 design's heal7-alerts; the email-platform ops guide's
# email-platform.rules), and the family (runbook page) and team each belongs to here.
HEAL7_ALERTS = {"HighErrorRate": "workloads", "PodCrashLooping": "kubernetes", "DatabaseConnectionHigh": "postgresql"}
EMAIL_PLATFORM_ALERTS = {
    "HighCPUUsage": "host",
    "HighMemoryUsage": "host",
    "DiskSpaceLow": "host",
    "BackendServiceDown": "workloads",
    "HighBackendResponseTime": "workloads",
    "HighErrorRate": "workloads",
    "PostgreSQLDown": "postgresql",
    "PostgreSQLTooManyConnections": "postgresql",
    "PostgreSQLSlowQueries": "postgresql",
    "RedisDown": "redis",
    "RedisHighMemoryUsage": "redis",
}
EMAIL_QUEUE_ALERTS = {"EmailQueueSizeHigh": "email", "EmailDeliveryRateLow": "email", "EmailBounceRateHigh": "email"}
# The platform's own group: the Cloud SQL replica's pglogical slots, read on the RDS primary.
PLATFORM_DATA_ALERTS = {
    "PostgreSQLReplicationSlotInactive": "postgresql",
    "PostgreSQLReplicationLagHigh": "postgresql",
    "PostgreSQLReplicationSlotRetainingWal": "postgresql",
    # The nightly dump and the weekly restore drill (DatabaseBackups' CronJobs).
    "PostgreSQLDumpMissing": "postgresql",
    "PostgreSQLRestoreDrillFailing": "postgresql",
}


def _groups(email: bool = True) -> list[dict[str, Any]]:
    return document_rule_groups(
        runbook_base_url=BASE,
        workloads=[EMAIL_BACKEND, WEB_MAIN],
        email_workloads=["email-backend"] if email else [],
    )


def _alerts(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_of_both_documents_exists_under_its_name() -> None:
    heal7, email_platform, platform_data = _groups()
    assert heal7["name"] == "heal7-alerts"
    assert email_platform["name"] == "email-platform.rules"
    # The platform's own alerts stay out of the documents' groups.
    assert platform_data["name"] == "platform-data.rules"
    assert [r["alert"] for r in platform_data["rules"]] == list(PLATFORM_DATA_ALERTS)
    assert {r["alert"] for r in heal7["rules"]} == set(HEAL7_ALERTS)
    assert {r["alert"] for r in email_platform["rules"]} == set(EMAIL_PLATFORM_ALERTS) | set(EMAIL_QUEUE_ALERTS)
    # Per-workload alerts once per workload; the rest once.
    counts = {name: [r["alert"] for r in email_platform["rules"]].count(name) for name in EMAIL_PLATFORM_ALERTS}
    per_workload = {"BackendServiceDown", "HighBackendResponseTime", "HighErrorRate"}
    assert counts == {name: 2 if name in per_workload else 1 for name in EMAIL_PLATFORM_ALERTS}
    assert [r["alert"] for r in heal7["rules"]].count("HighErrorRate") == 2


def test_the_apps_http_alerts_only_for_workloads_that_export_the_metrics() -> None:
    mesh_only = WatchedWorkload("heal7-web-main", "heal7-production", team="backend")
    groups = document_rule_groups(runbook_base_url=BASE, workloads=[EMAIL_BACKEND, mesh_only])

    def named(service: str) -> set[tuple[str, str]]:
        return {
            (r["alert"], r["labels"]["severity"])
            for r in _alerts(groups)
            if r["labels"].get("service") == service or service in r["expr"]
        }

    assert {("HighBackendResponseTime", "warning"), ("HighErrorRate", "warning")} <= named("email-backend")
    # The mesh-only workload keeps BackendServiceDown and the HEAL7 design's mesh HighErrorRate
    # (critical), not the guide's app-metric ones (warning).
    web = [r for r in _alerts(groups) if r["labels"].get("service") == "heal7-web-main"]
    assert {(r["alert"], r["labels"]["severity"]) for r in web} == {
        ("BackendServiceDown", "critical"),
        ("HighErrorRate", "critical"),
    }


def test_the_email_queue_alerts_only_for_the_email_example() -> None:
    names = {r["alert"] for r in _alerts(_groups(email=False))}
    assert names.isdisjoint(EMAIL_QUEUE_ALERTS)
    assert set(EMAIL_PLATFORM_ALERTS) <= names


def test_every_alert_carries_severity_team_service_and_annotations() -> None:
    families = HEAL7_ALERTS | EMAIL_PLATFORM_ALERTS | EMAIL_QUEUE_ALERTS | PLATFORM_DATA_ALERTS
    for rule in _alerts(_groups()):
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["labels"]["team"] in TEAMS, name
        # PodCrashLooping derives its service from the pod name in the expression.
        assert rule["labels"].get("service") or ("label_replace(" in rule["expr"] and '"service"' in rule["expr"]), name
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name
        assert all(rule["annotations"][k].strip() for k in ("summary", "description")), name
        assert rule["annotations"]["runbook_url"] == f"{BASE}/{families[name]}.md#{name.lower()}"


def test_documents_severities_and_teams_are_kept() -> None:
    groups = _groups()
    expected = {
        ("HighCPUUsage", "warning", "platform"),
        ("HighMemoryUsage", "warning", "platform"),
        ("DiskSpaceLow", "critical", "platform"),
        ("BackendServiceDown", "critical", "backend"),
        ("HighBackendResponseTime", "warning", "backend"),
        ("HighErrorRate", "warning", "backend"),
        ("HighErrorRate", "critical", "backend"),  # the HEAL7 design's
        ("PodCrashLooping", "warning", "platform"),
        ("DatabaseConnectionHigh", "warning", "database"),
        ("PostgreSQLDown", "critical", "database"),
        ("PostgreSQLTooManyConnections", "warning", "database"),
        ("PostgreSQLSlowQueries", "warning", "database"),
        ("RedisDown", "critical", "cache"),
        ("RedisHighMemoryUsage", "warning", "cache"),
        ("EmailQueueSizeHigh", "warning", "email"),
        ("EmailDeliveryRateLow", "warning", "email"),
        ("EmailBounceRateHigh", "warning", "email"),
        ("PostgreSQLReplicationSlotInactive", "critical", "database"),
        ("PostgreSQLReplicationLagHigh", "warning", "database"),
        ("PostgreSQLReplicationSlotRetainingWal", "warning", "database"),
        ("PostgreSQLDumpMissing", "warning", "database"),
        ("PostgreSQLRestoreDrillFailing", "warning", "database"),
    }
    assert {(r["alert"], r["labels"]["severity"], r["labels"]["team"]) for r in _alerts(groups)} == expected
    durations = {(r["alert"], r["labels"]["severity"]): r["for"] for r in _alerts(groups)}
    assert durations[("PodCrashLooping", "warning")] == "10m"
    assert durations[("EmailQueueSizeHigh", "warning")] == "10m"
    assert durations[("EmailBounceRateHigh", "warning")] == "15m"
    assert durations[("PostgreSQLDown", "critical")] == "1m"
    assert durations[("PostgreSQLReplicationSlotInactive", "critical")] == "5m"
    assert durations[("PostgreSQLReplicationLagHigh", "warning")] == "10m"
    assert durations[("PostgreSQLReplicationSlotRetainingWal", "warning")] == "15m"
    assert durations[("PostgreSQLDumpMissing", "warning")] == durations[("PostgreSQLRestoreDrillFailing", "warning")]


def test_backup_alerts_read_kube_state_metrics_cronjob_series_by_name() -> None:
    groups = _groups()
    for name, cronjob, seconds in (
        ("PostgreSQLDumpMissing", "postgres-dump", 26 * 3600),
        ("PostgreSQLRestoreDrillFailing", "postgres-restore-drill", 8 * 86400),
    ):
        expr = rule_for(groups, name)["expr"]
        assert re.findall(r"\b(kube_cronjob_[a-z_]+)\{([^}]*)\}", expr) == [
            ("kube_cronjob_status_last_successful_time", f'cronjob="{cronjob}"'),
            ("kube_cronjob_created", f'cronjob="{cronjob}"'),
            ("kube_cronjob_status_last_successful_time", f'cronjob="{cronjob}"'),
        ]
        assert expr.count(f"> {seconds}") == 2


def test_replication_alerts_read_the_primarys_exporter_and_only_logical_slots() -> None:
    groups = _groups()
    selectors = {
        name: re.findall(r"\b(pg_[a-z_]+)\{([^}]*)\}", rule_for(groups, name)["expr"])
        for name in PLATFORM_DATA_ALERTS
        if "Replication" in name
    }
    assert {name: [metric for metric, _ in found] for name, found in selectors.items()} == {
        "PostgreSQLReplicationSlotInactive": ["pg_replication_slots_slot_is_active"],
        "PostgreSQLReplicationLagHigh": [
            "pg_replication_slots_slot_current_wal_lsn",
            "pg_replication_slots_slot_confirmed_flush_lsn",
        ],
        "PostgreSQLReplicationSlotRetainingWal": ["pg_replication_slots_pg_wal_lsn_diff"],
    }
    for name, found in selectors.items():
        for metric, matchers in found:
            assert metric_catalogue.source_of(metric) == "postgres-exporter", f"{name}: {metric}"
            assert 'job="postgres-exporter"' in matchers, f"{name}: {metric}"
            # A physical slot's confirmed_flush_lsn is reported as 0: the lag and the inactive slot are
            # the replica's logical slots only (pg_wal_lsn_diff has no slot_type: every slot fills storage).
            if name != "PostgreSQLReplicationSlotRetainingWal":
                assert 'slot_type="logical"' in matchers, f"{name}: {metric}"
    assert rule_for(groups, "PostgreSQLReplicationLagHigh")["expr"].endswith(f"> {2**30}")
    assert rule_for(groups, "PostgreSQLReplicationSlotRetainingWal")["expr"].endswith(f"> {10 * 2**30}")


def test_fixed_expressions_say_why_in_their_description() -> None:
    groups = _groups()
    heal7_error = rule_for(groups, "HighErrorRate", severity="critical", service="heal7-web-main")
    assert "istio_requests_total" in heal7_error["expr"] and 'response_code=~"5.."' in heal7_error["expr"]
    assert "raw count of errors per second" in heal7_error["annotations"]["description"]
    connections = rule_for(groups, "DatabaseConnectionHigh")
    assert "pg_settings_max_connections" in connections["expr"]
    assert "max_connections" in connections["annotations"]["description"]
    slow = rule_for(groups, "PostgreSQLSlowQueries")
    assert "pg_stat_activity_max_tx_duration" in slow["expr"] and "blk_read_time" not in slow["expr"]
    assert "block I/O time, not query time" in slow["annotations"]["description"]
    redis = rule_for(groups, "RedisHighMemoryUsage")
    assert "redis_memory_max_bytes{" in redis["expr"] and "> 0)" in redis["expr"]
    for name in ("HighCPUUsage", "HighMemoryUsage", "DiskSpaceLow"):
        rule = rule_for(groups, name)
        assert "kube_node_spec_unschedulable" in rule["expr"] and "ToBeDeletedByClusterAutoscaler" in rule["expr"]
        assert "being drained" in rule["annotations"]["description"]


def test_every_runbook_url_names_a_section_of_its_page() -> None:
    anchors: dict[str, set[str]] = {}
    for family in RUNBOOK_FAMILIES:
        page = RUNBOOKS / f"{family}.md"
        assert page.is_file(), f"docs/runbooks/{family}.md is missing"
        anchors[family] = {_github_slug(h) for h in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.MULTILINE)}
    for rule in _alerts(_groups()):
        family, anchor = rule["annotations"]["runbook_url"].removeprefix(f"{BASE}/").split(".md#")
        assert anchor in anchors[family], f"docs/runbooks/{family}.md has no heading for #{anchor}"


def _github_slug(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workloads": [WatchedWorkload("Email_Backend", "email-platform")]}, "workload 'Email_Backend': name: must"),
        ({"workloads": [WatchedWorkload("email-backend", "email-platform", team="ops")]}, "team must be one of"),
        ({"workloads": [EMAIL_BACKEND, EMAIL_BACKEND]}, "workloads: each workload once, got email-backend"),
        ({"workloads": [WEB_MAIN], "email_workloads": ["email-backend"]}, "email_workloads: must name workloads"),
        ({"workloads": [WEB_MAIN], "runbook_base_url": "docs/runbooks"}, "runbook_base_url: must be an https://"),
    ],
)
def test_bad_input_is_refused_with_what_was_expected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        document_rule_groups(**{"runbook_base_url": BASE, **kwargs})


def test_a_missing_promtool_fails_the_test_and_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promtool_helper.shutil, "which", lambda _name: None)
    with pytest.raises(pytest.fail.Exception, match=r"promtool not found on PATH: run `make test`"):
        promtool_helper.promtool()


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    path = write_rule_file(tmp_path, "documents.yaml", _groups())
    assert "SUCCESS: 26 rules found" in check_rules(path)


# --- promtool unit tests: one scenario per alert, firing and silent -------------------------------

NODE = {"job": "node-exporter"}
KSM = {"job": "kube-state-metrics"}
PG = {"job": "postgres-exporter", "service": "postgresql", "instance": "10.0.1.5:9187"}
REDIS = {"job": "redis-exporter", "service": "redis", "instance": "10.0.1.6:9121"}


def _node_state(node: str, *, cordoned: bool = False, autoscaler_taint: bool = False) -> list[dict[str, str]]:
    state = [series("kube_node_spec_unschedulable", {**KSM, "node": node}, "1x40" if cordoned else "0x40")]
    if autoscaler_taint:
        taint = {
            **KSM,
            "node": node,
            "key": "ToBeDeletedByClusterAutoscaler",
            "value": "1700000000",
            "effect": "NoSchedule",
        }
        state.append(series("kube_node_spec_taint", taint, "1x40"))
    return state


def _cpu(node: str, idle_per_minute: int) -> dict[str, str]:
    # One CPU; idle seconds gained per minute out of 60.
    return series(
        "node_cpu_seconds_total", {**NODE, "instance": node, "cpu": "0", "mode": "idle"}, f"0+{idle_per_minute}x40"
    )


def _memory(node: str, available: int, total: int) -> list[dict[str, str]]:
    return [
        series("node_memory_MemAvailable_bytes", {**NODE, "instance": node}, f"{available}x40"),
        series("node_memory_MemTotal_bytes", {**NODE, "instance": node}, f"{total}x40"),
    ]


def _fs(node: str, mount: str, fstype: str, free_percent: int, *, readonly: bool = False) -> list[dict[str, str]]:
    labels = {
        **NODE,
        "instance": node,
        "device": f"/dev/{mount.strip('/').replace('/', '-') or 'root'}",
        "fstype": fstype,
        "mountpoint": mount,
    }
    return [
        series("node_filesystem_avail_bytes", labels, f"{free_percent * 10**9}x40"),
        series("node_filesystem_size_bytes", labels, f"{100 * 10**9}x40"),
        series("node_filesystem_readonly", labels, "1x40" if readonly else "0x40"),
    ]


def _host_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cpu, mem, disk = (rule_for(g, n) for n in ("HighCPUUsage", "HighMemoryUsage", "DiskSpaceLow"))
    busy, idle = 6, 48  # 90 % and 20 % busy
    fs_a = {**NODE, "instance": "node-a", "device": "/dev/root", "fstype": "xfs", "mountpoint": "/"}
    return [
        {
            # node-a busy: fires. node-b busy but cordoned, node-c busy but tainted by the autoscaler,
            # node-d quiet: silent.
            "input_series": [
                _cpu("node-a", busy),
                _cpu("node-b", busy),
                _cpu("node-c", busy),
                _cpu("node-d", idle),
                *_node_state("node-a"),
                *_node_state("node-b", cordoned=True),
                *_node_state("node-c", autoscaler_taint=True),
                *_node_state("node-d"),
            ],
            "alert_rule_test": [
                alert_test("HighCPUUsage", "4m", []),  # pending: 5m not yet elapsed
                alert_test("HighCPUUsage", "12m", [expected_alert(cpu, {"instance": "node-a"}, 90)]),
            ],
        },
        {
            "input_series": [
                _cpu("node-b", busy),
                _cpu("node-d", idle),
                *_node_state("node-b", cordoned=True),
                *_node_state("node-d"),
            ],
            "alert_rule_test": [alert_test("HighCPUUsage", "12m", [])],
        },
        {
            "input_series": _memory("node-a", 1 * 10**9, 10 * 10**9)
            + _memory("node-b", 1 * 10**9, 10 * 10**9)
            + _memory("node-d", 5 * 10**9, 10 * 10**9)
            + _node_state("node-a")
            + _node_state("node-b", cordoned=True)
            + _node_state("node-d"),
            "alert_rule_test": [
                alert_test("HighMemoryUsage", "12m", [expected_alert(mem, {**NODE, "instance": "node-a"}, 90)])
            ],
        },
        {
            "input_series": _memory("node-b", 1 * 10**9, 10 * 10**9)
            + _memory("node-d", 5 * 10**9, 10 * 10**9)
            + _node_state("node-b", cordoned=True)
            + _node_state("node-d"),
            "alert_rule_test": [alert_test("HighMemoryUsage", "12m", [])],
        },
        {
            # node-a's / at 5 % free fires. Silent: a read-only COS-style root at 1 %, a tmpfs at 1 %,
            # node-c's disk at 5 % while the autoscaler drains it, node-d at 50 %.
            "input_series": _fs("node-a", "/", "xfs", 5)
            + _fs("node-a", "/run", "tmpfs", 1)
            + _fs("node-b", "/", "ext2", 1, readonly=True)
            + _fs("node-b", "/mnt/stateful_partition", "ext4", 40)
            + _fs("node-c", "/", "xfs", 5)
            + _fs("node-d", "/", "xfs", 50)
            + _node_state("node-a")
            + _node_state("node-b")
            + _node_state("node-c", autoscaler_taint=True)
            + _node_state("node-d"),
            "alert_rule_test": [alert_test("DiskSpaceLow", "12m", [expected_alert(disk, fs_a, 5)])],
        },
        {
            "input_series": _fs("node-b", "/", "ext2", 1, readonly=True)
            + _fs("node-c", "/", "xfs", 5)
            + _fs("node-d", "/", "xfs", 50)
            + _node_state("node-b")
            + _node_state("node-c", autoscaler_taint=True)
            + _node_state("node-d"),
            "alert_rule_test": [alert_test("DiskSpaceLow", "12m", [])],
        },
    ]


def _up(workload: str, values: list[str]) -> list[dict[str, str]]:
    return [
        series("up", {"job": workload, "service": workload, "pod": f"{workload}-7f9c6b8d4-p{i}"}, v)
        for i, v in enumerate(values)
    ]


def _service_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    down_email = rule_for(g, "BackendServiceDown", service="email-backend")
    down_web = rule_for(g, "BackendServiceDown", service="heal7-web-main")
    slow = rule_for(g, "HighBackendResponseTime", service="email-backend")
    job = {"job": "email-backend"}

    def buckets(slow_requests: int, fast_requests: int) -> list[dict[str, str]]:
        # Two pods; per minute each sees `fast_requests` under 0.5 s and `slow_requests` in (1, 2.5] s.
        out = []
        for pod in ("email-backend-7f9c6b8d4-p0", "email-backend-7f9c6b8d4-p1"):
            for le, n in (
                ("0.5", fast_requests),
                ("1", fast_requests),
                ("2.5", fast_requests + slow_requests),
                ("+Inf", fast_requests + slow_requests),
            ):
                labels = {**job, "service": "email-backend", "pod": pod, "le": le}
                out.append(series("http_request_duration_seconds_bucket", labels, f"0+{n}x40"))
        return out

    return [
        {
            # Every email-backend pod down: fires. heal7-web-main has one of two pods down: silent.
            "input_series": _up("email-backend", ["0x10", "0x10"]) + _up("heal7-web-main", ["0x10", "1x10"]),
            "alert_rule_test": [
                alert_test("BackendServiceDown", "0m", []),
                alert_test("BackendServiceDown", "3m", [expected_alert(down_email, job, 0)]),
            ],
        },
        {
            # No heal7-web-main target left at all (absent): fires; email-backend answering: silent.
            "input_series": _up("email-backend", ["1x10", "1x10"]),
            "alert_rule_test": [
                alert_test("BackendServiceDown", "3m", [expected_alert(down_web, {"job": "heal7-web-main"}, 1)])
            ],
        },
        {
            "input_series": _up("email-backend", ["0x10", "1x10"]) + _up("heal7-web-main", ["1x10", "0x10"]),
            "alert_rule_test": [alert_test("BackendServiceDown", "5m", [])],
        },
        {
            # Every request in (1, 2.5] s: p95 = 1 + 1.5 * 0.95 = 2.425 s over both pods.
            "input_series": buckets(slow_requests=60, fast_requests=0),
            "alert_rule_test": [alert_test("HighBackendResponseTime", "12m", [expected_alert(slow, job, 2.425)])],
        },
        {
            "input_series": buckets(slow_requests=1, fast_requests=99),
            "alert_rule_test": [alert_test("HighBackendResponseTime", "12m", [])],
        },
    ]


def _istio(workload: str, namespace: str, code: str, per_minute: int) -> dict[str, str]:
    labels = {
        "reporter": "destination",
        "destination_workload": workload,
        "destination_workload_namespace": namespace,
        "response_code": code,
        "source_workload": "istio-ingressgateway",
    }
    return series("istio_requests_total", labels, f"0+{per_minute}x40")


def _http(status: str, route: str, per_minute: int) -> dict[str, str]:
    labels = {"job": "email-backend", "service": "email-backend", "status": status, "route": route}
    return series("http_requests_total", labels, f"0+{per_minute}x40")


def _error_rate_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    heal7 = rule_for(g, "HighErrorRate", severity="critical", service="email-backend")
    guide = rule_for(g, "HighErrorRate", severity="warning", service="email-backend")
    mesh_labels = {"destination_workload": "email-backend", "destination_workload_namespace": "email-platform"}
    return [
        {
            # email-backend answers 10 % 5xx, seen by the mesh and by its own counter: both documents'
            # alerts fire. heal7-web-main answers 6000 requests a minute with 1 % 5xx: 1 error per second,
            # which the HEAL7 design's raw `> 0.05` rate would have paged on; as a ratio it is silent.
            "input_series": [
                _istio("email-backend", "email-platform", "200", 540),
                _istio("email-backend", "email-platform", "503", 60),
                _istio("heal7-web-main", "heal7-production", "200", 5940),
                _istio("heal7-web-main", "heal7-production", "500", 60),
                _http("200", "/api/send", 540),
                _http("500", "/api/send", 60),
            ],
            "alert_rule_test": [
                alert_test(
                    "HighErrorRate",
                    "12m",
                    [expected_alert(heal7, mesh_labels, 0.1), expected_alert(guide, {"job": "email-backend"}, 0.1)],
                )
            ],
        },
        {
            # 1 % 5xx on both signals: silent (the guide's series-by-series division gave 1 here).
            "input_series": [
                _istio("email-backend", "email-platform", "200", 594),
                _istio("email-backend", "email-platform", "500", 6),
                _http("200", "/api/send", 594),
                _http("500", "/api/send", 6),
            ],
            "alert_rule_test": [alert_test("HighErrorRate", "12m", [])],
        },
    ]


def _kubernetes_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    crash = rule_for(g, "PodCrashLooping")
    web = {**KSM, "namespace": "heal7-production", "pod": "heal7-web-main-7f9c6b8d4-xk2lp", "container": "app"}
    stateful = {**KSM, "namespace": "logging", "pod": "elasticsearch-es-default-0", "container": "elasticsearch"}
    return [
        {
            # A restart a minute: more than 5 within the hour. The workload's pod is grouped under its
            # workload's name; a pod without the Deployment suffixes keeps its own name.
            "input_series": [
                series("kube_pod_container_status_restarts_total", web, "0+1x40"),
                series("kube_pod_container_status_restarts_total", stateful, "0+1x40"),
            ],
            "alert_rule_test": [
                alert_test(
                    "PodCrashLooping",
                    "20m",
                    [
                        expected_alert(crash, {**stateful, "service": "elasticsearch-es-default-0"}, 0),
                        expected_alert(crash, {**web, "service": "heal7-web-main"}, 0),
                    ],
                )
            ],
        },
        {
            # 3 restarts in the hour, then none: silent.
            "input_series": [series("kube_pod_container_status_restarts_total", web, "0 1 2 3x40")],
            "alert_rule_test": [alert_test("PodCrashLooping", "30m", [])],
        },
    ]


def _activity(
    datname: str, state: str, count: int, backend: str = "client backend", metric: str = "count"
) -> dict[str, str]:
    labels = {
        **PG,
        "datname": datname,
        "state": state,
        "usename": "app",
        "application_name": "",
        "backend_type": backend,
        "wait_event_type": "",
        "wait_event": "",
    }
    return series(f"pg_stat_activity_{metric}", labels, f"{count}x40")


def _postgresql_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    high, down, many, slow = (
        rule_for(g, n)
        for n in ("DatabaseConnectionHigh", "PostgreSQLDown", "PostgreSQLTooManyConnections", "PostgreSQLSlowQueries")
    )

    def max_connections(n: int) -> dict[str, str]:
        return series("pg_settings_max_connections", PG, f"{n}x40")

    def backends(datname: str, n: int) -> dict[str, str]:
        return series("pg_stat_database_numbackends", {**PG, "datid": str(len(datname)), "datname": datname}, f"{n}x40")

    return [
        {
            # heal7 holds 300 active + 150 idle of 500 slots (90 %): fires; emails' 20 do not.
            "input_series": [
                _activity("heal7", "active", 300),
                _activity("heal7", "idle", 150),
                _activity("emails", "idle", 20),
                max_connections(500),
            ],
            "alert_rule_test": [
                alert_test("DatabaseConnectionHigh", "12m", [expected_alert(high, {**PG, "datname": "heal7"}, 0.9)])
            ],
        },
        {
            # The same 450 connections on an instance allowing 5000 (9 %): silent. The HEAL7 design's
            # constant `> 80` would have fired.
            "input_series": [_activity("heal7", "active", 300), _activity("heal7", "idle", 150), max_connections(5000)],
            "alert_rule_test": [alert_test("DatabaseConnectionHigh", "12m", [])],
        },
        {
            "input_series": [series("pg_up", PG, "0x10")],
            "alert_rule_test": [alert_test("PostgreSQLDown", "3m", [expected_alert(down, PG, 0)])],
        },
        {"input_series": [series("pg_up", PG, "1x10")], "alert_rule_test": [alert_test("PostgreSQLDown", "3m", [])]},
        {
            # 300 + 150 backends over two databases of 500 allowed: 90 % of the instance.
            "input_series": [backends("heal7", 300), backends("emails", 150), max_connections(500)],
            "alert_rule_test": [alert_test("PostgreSQLTooManyConnections", "12m", [expected_alert(many, PG, 90)])],
        },
        {
            "input_series": [backends("heal7", 300), backends("emails", 150), max_connections(1000)],
            "alert_rule_test": [alert_test("PostgreSQLTooManyConnections", "12m", [])],
        },
        {
            # A client transaction active for 120 s: fires.
            "input_series": [_activity("heal7", "active", 120, metric="max_tx_duration")],
            "alert_rule_test": [
                alert_test("PostgreSQLSlowQueries", "12m", [expected_alert(slow, {**PG, "datname": "heal7"}, 120)])
            ],
        },
        {
            # Silent: clients' statements at 5 s; an autovacuum worker busy for 10 minutes is not a query.
            "input_series": [
                _activity("heal7", "active", 5, metric="max_tx_duration"),
                _activity("heal7", "active", 600, backend="autovacuum worker", metric="max_tx_duration"),
            ],
            "alert_rule_test": [alert_test("PostgreSQLSlowQueries", "12m", [])],
        },
    ]


GIB = 2**30
MIB = 2**20
SLOT = {**PG, "slot_name": "pgl_heal7_provider_heal7_sub", "slot_type": "logical"}
# An RDS read replica's physical slot: no confirmed_flush_lsn, which the exporter reports as 0.
PHYSICAL_SLOT = {**PG, "slot_name": "rds_ap_northeast_2_db_replica", "slot_type": "physical"}


def _replication_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inactive, lag, retaining = (
        rule_for(g, n)
        for n in (
            "PostgreSQLReplicationSlotInactive",
            "PostgreSQLReplicationLagHigh",
            "PostgreSQLReplicationSlotRetainingWal",
        )
    )
    other = {**SLOT, "slot_name": "pgl_postgres_provider_postgres_sub"}

    def lsns(labels: dict[str, str], current: str, confirmed: str) -> list[dict[str, str]]:
        return [
            series("pg_replication_slots_slot_current_wal_lsn", labels, current),
            series("pg_replication_slots_slot_confirmed_flush_lsn", labels, confirmed),
        ]

    def retained(slot: str, database: str, values: str) -> dict[str, str]:
        return series("pg_replication_slots_pg_wal_lsn_diff", {**PG, "slot_name": slot, "database": database}, values)

    return [
        {
            # The heal7 slot loses its consumer: pending at 3 minutes, firing after 5. The postgres
            # database's slot stays active; the physical slot is not the replica's.
            "input_series": [
                series("pg_replication_slots_slot_is_active", SLOT, "0x20"),
                series("pg_replication_slots_slot_is_active", other, "1x20"),
                series("pg_replication_slots_slot_is_active", PHYSICAL_SLOT, "0x20"),
            ],
            "alert_rule_test": [
                alert_test("PostgreSQLReplicationSlotInactive", "3m", []),
                alert_test("PostgreSQLReplicationSlotInactive", "7m", [expected_alert(inactive, SLOT, 0)]),
            ],
        },
        {
            # The replica reconnects after 3 minutes (a restart): silent.
            "input_series": [series("pg_replication_slots_slot_is_active", SLOT, "0 0 0 1x20")],
            "alert_rule_test": [alert_test("PostgreSQLReplicationSlotInactive", "7m", [])],
        },
        {
            # The heal7 slot stays 2 GiB behind while the primary writes 1 MiB a minute: fires. The
            # physical slot's 0 confirmed position would read as 100 GiB of lag: not the replica's.
            "input_series": lsns(SLOT, f"{100 * GIB}+{MIB}x30", f"{98 * GIB}+{MIB}x30")
            + lsns(PHYSICAL_SLOT, f"{100 * GIB}+{MIB}x30", "0x30"),
            "alert_rule_test": [
                alert_test("PostgreSQLReplicationLagHigh", "5m", []),
                alert_test("PostgreSQLReplicationLagHigh", "12m", [expected_alert(lag, SLOT, 2 * GIB)]),
            ],
        },
        {
            # A 2 GiB burst caught up within 5 minutes, and a slot steadily 100 MiB behind: silent.
            "input_series": lsns(SLOT, f"{100 * GIB}x30", f"{98 * GIB}x5 {100 * GIB - 10 * MIB}x25")
            + lsns(other, f"{100 * GIB}x30", f"{100 * GIB - 100 * MIB}x30"),
            "alert_rule_test": [alert_test("PostgreSQLReplicationLagHigh", "12m", [])],
        },
        {
            # The heal7 slot holds 12 GiB of WAL: firing after 15 minutes. The postgres slot's 5 GiB: silent.
            "input_series": [
                retained(SLOT["slot_name"], "heal7", f"{12 * GIB}x30"),
                retained(other["slot_name"], "postgres", f"{5 * GIB}x30"),
            ],
            "alert_rule_test": [
                alert_test("PostgreSQLReplicationSlotRetainingWal", "10m", []),
                alert_test(
                    "PostgreSQLReplicationSlotRetainingWal",
                    "20m",
                    [expected_alert(retaining, {**PG, "slot_name": SLOT["slot_name"], "database": "heal7"}, 12 * GIB)],
                ),
            ],
        },
        {
            # 12 GiB for 10 minutes, then released down to 1 GiB (the replica caught up): silent.
            "input_series": [retained(SLOT["slot_name"], "heal7", f"{12 * GIB}x10 {GIB}x20")],
            "alert_rule_test": [alert_test("PostgreSQLReplicationSlotRetainingWal", "20m", [])],
        },
    ]


def _backup_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Four-minute steps (inside the 5-minute lookback, so no gaps); a CronJob created at 0 whose last
    success is the series' value (seconds)."""
    dump, drill = rule_for(g, "PostgreSQLDumpMissing"), rule_for(g, "PostgreSQLRestoreDrillFailing")
    backups = {**KSM, "namespace": "backups"}
    dumps, drills = {**backups, "cronjob": "postgres-dump"}, {**backups, "cronjob": "postgres-restore-drill"}
    hour, day = 3600, 86400

    def cronjob(labels: dict[str, str], successes: str | None, steps: int) -> list[dict[str, str]]:
        found = [series("kube_cronjob_created", labels, f"0x{steps}")]
        if successes is not None:
            found.append(series("kube_cronjob_status_last_successful_time", labels, successes))
        return found

    return [
        {
            # Last dump done at 04:00 (4 h) and none since: pending past 30 h, firing once 10 minutes old.
            "interval": "4m",
            "input_series": cronjob(dumps, f"{4 * hour}x500", 500),
            "alert_rule_test": [
                alert_test("PostgreSQLDumpMissing", "29h", []),
                alert_test("PostgreSQLDumpMissing", "30h30m", [expected_alert(dump, dumps, 30.5 * hour - 4 * hour)]),
            ],
        },
        {
            # A dump every night (04:00, then 03:30 the next day): silent.
            "interval": "4m",
            "input_series": cronjob(dumps, f"{4 * hour}x412 {27.5 * hour:.0f}x88", 500),
            "alert_rule_test": [alert_test("PostgreSQLDumpMissing", "30h30m", [])],
        },
        {
            # Created and never once succeeded: no last-success series at all, fires on its age alone.
            "interval": "4m",
            "input_series": cronjob(dumps, None, 500),
            "alert_rule_test": [
                alert_test("PostgreSQLDumpMissing", "25h", []),
                alert_test("PostgreSQLDumpMissing", "27h", [expected_alert(dump, dumps, 27 * hour)]),
            ],
        },
        {
            # A drill passed on day 1 and none since: firing on day 9 plus an hour.
            "interval": "4m",
            "input_series": cronjob(drills, f"{day}x3400", 3400),
            "alert_rule_test": [
                alert_test("PostgreSQLRestoreDrillFailing", "8d23h", []),
                alert_test(
                    "PostgreSQLRestoreDrillFailing", "9d2h", [expected_alert(drill, drills, 8 * day + 2 * hour)]
                ),
            ],
        },
        {
            # Weekly drills (day 1, day 8): silent; the dump's alert ignores the drill's CronJob.
            "interval": "4m",
            "input_series": cronjob(drills, f"{day}x2880 {8 * day}x520", 3400),
            "alert_rule_test": [
                alert_test("PostgreSQLRestoreDrillFailing", "9d2h", []),
                alert_test("PostgreSQLDumpMissing", "9d2h", []),
            ],
        },
    ]


def _redis_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    down, memory = rule_for(g, "RedisDown"), rule_for(g, "RedisHighMemoryUsage")
    gib = 2**30

    def used(used_bytes: int, max_bytes: int) -> list[dict[str, str]]:
        return [
            series("redis_memory_used_bytes", REDIS, f"{used_bytes}x40"),
            series("redis_memory_max_bytes", REDIS, f"{max_bytes}x40"),
        ]

    return [
        {
            "input_series": [series("redis_up", REDIS, "0x10")],
            "alert_rule_test": [alert_test("RedisDown", "3m", [expected_alert(down, REDIS, 0)])],
        },
        {"input_series": [series("redis_up", REDIS, "1x10")], "alert_rule_test": [alert_test("RedisDown", "3m", [])]},
        {
            "input_series": used(95 * gib // 10, 10 * gib),
            "alert_rule_test": [alert_test("RedisHighMemoryUsage", "12m", [expected_alert(memory, REDIS, 95)])],
        },
        {"input_series": used(5 * gib, 10 * gib), "alert_rule_test": [alert_test("RedisHighMemoryUsage", "12m", [])]},
        # maxmemory 0 (no limit): the guide's division gave +Inf and fired; silent here.
        {"input_series": used(5 * gib, 0), "alert_rule_test": [alert_test("RedisHighMemoryUsage", "12m", [])]},
    ]


def _email_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    queue, delivery, bounce = (
        rule_for(g, n) for n in ("EmailQueueSizeHigh", "EmailDeliveryRateLow", "EmailBounceRateHigh")
    )
    job = {"job": "email-backend"}
    pod = {**job, "service": "email-backend", "pod": "email-backend-7f9c6b8d4-p0"}

    def emails(delivered: int, bounced: int) -> list[dict[str, str]]:
        # Per minute: 100 sent by one pod; deliveries and bounces reported by the other (webhooks).
        other = {**job, "service": "email-backend", "pod": "email-backend-7f9c6b8d4-p1"}
        return [
            series("emails_sent_total", pod, "0+100x60"),
            series("emails_delivered_total", other, f"0+{delivered}x60"),
            series("emails_bounced_total", other, f"0+{bounced}x60"),
        ]

    return [
        {
            "input_series": [series("email_queue_size", pod, "1500x30")],
            "alert_rule_test": [
                alert_test("EmailQueueSizeHigh", "8m", []),
                alert_test("EmailQueueSizeHigh", "15m", [expected_alert(queue, pod, 1500)]),
            ],
        },
        {
            "input_series": [series("email_queue_size", pod, "500x30")],
            "alert_rule_test": [alert_test("EmailQueueSizeHigh", "15m", [])],
        },
        {
            "input_series": emails(delivered=90, bounced=10),
            "alert_rule_test": [
                alert_test("EmailDeliveryRateLow", "30m", [expected_alert(delivery, job, 0.9)]),
                alert_test("EmailBounceRateHigh", "30m", [expected_alert(bounce, job, 0.1)]),
            ],
        },
        {
            "input_series": emails(delivered=99, bounced=1),
            "alert_rule_test": [
                alert_test("EmailDeliveryRateLow", "30m", []),
                alert_test("EmailBounceRateHigh", "30m", []),
            ],
        },
    ]


def test_every_alert_fires_and_stays_silent_under_promtool(tmp_path: Path) -> None:
    groups = _groups()
    cases = (
        _host_cases(groups)
        + _service_cases(groups)
        + _error_rate_cases(groups)
        + _kubernetes_cases(groups)
        + _postgresql_cases(groups)
        + _replication_cases(groups)
        + _backup_cases(groups)
        + _redis_cases(groups)
        + _email_cases(groups)
    )
    tests = [{"interval": "1m", **case} for case in cases]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in _alerts(groups)}, "an alert without a promtool test"
    for name in tested:
        outcomes = [bool(t["exp_alerts"]) for case in cases for t in case["alert_rule_test"] if t["alertname"] == name]
        assert True in outcomes and False in outcomes, f"{name}: needs a firing and a silent case"
    rule_file = write_rule_file(tmp_path, "documents.yaml", groups)
    run_rule_tests(tmp_path, rule_file, tests)
