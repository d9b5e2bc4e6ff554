"""Dashboards as code: every query parses as PromQL (promql-parser, pinned in requirements-dev.txt)
and names only metrics some exporter or recording rule provides (metric_catalogue); every dashboard
has a unique stable uid, the `datasource` and `cluster` variables, and panels that do not overlap; the
email platform's dashboard only when asked."""

import json
import re
from typing import Any

import promql_parser
import pytest

from components.kubernetes._monitoring_values import grafana_values
from components.kubernetes.observability import metric_catalogue
from components.kubernetes.observability._panels import MIXED, SCHEMA_VERSION, Grid
from components.kubernetes.observability.dashboards import CLUSTER_DATA_SOURCES, dashboards

ALL = dashboards(include_email_platform=True)
# The panels that compare the clusters query each cluster's own data source by uid.
COMPARISONS = {
    (name, panel["title"]) for name, board in ALL.items() for panel in board["panels"] if panel["datasource"] == MIXED
}
EXPRESSIONS = [
    (f"{name}:{panel['title']}:{target['refId']}", target["expr"])
    for name, board in ALL.items()
    for panel in board["panels"]
    for target in panel["targets"]
]
# Grafana's interval macros are not PromQL; Grafana replaces them before the query reaches Prometheus.
MACROS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def _parse(expr: str) -> promql_parser.Expr:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    # `$cluster` / `$workload` / `$slo` only ever appear inside quoted label values, which PromQL accepts.
    return promql_parser.parse(expr)


def _selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(metric name, {label: (operator, value)}) of every vector selector in `expr`."""
    found: list[tuple[str, dict[str, tuple[str, str]]]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name: (str(m.op).rsplit(".", 1)[-1], m.value) for m in node.matchers.matchers}
            found.append((node.name or labels.get("__name__", ("", ""))[1], labels))
        return True

    promql_parser.walk(_parse(expr), visit)
    return found


def test_the_parser_is_strict_enough_to_catch_a_broken_query():
    with pytest.raises(ValueError):
        _parse('sum by (cluster) (rate(istio_requests_total{cluster=~"$cluster"}[$__rate_interval])')
    assert _selectors('a{b="c"} / on (x) group_left d') == [("a", {"b": ("Equal", "c")}), ("d", {})]


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_every_query_parses_and_names_only_catalogued_metrics(where: str, expr: str):
    selectors = _selectors(expr)
    assert selectors, f"{where}: no metric selector in {expr}"
    for metric, labels in selectors:
        assert metric, f"{where}: a selector without a metric name"
        assert metric_catalogue.source_of(metric), f"{where}: {metric} is provided by no source of metric_catalogue"
        # Every selector follows the cluster variable, so one dashboard serves either cluster;
        # a comparison's targets each read one cluster's data source instead.
        if tuple(where.split(":")[:2]) not in COMPARISONS:
            assert labels.get("cluster") == ("Re", "$cluster"), f"{where}: {metric} ignores the cluster variable"


def test_every_variable_query_names_a_catalogued_metric():
    for name, board in ALL.items():
        for variable in board["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["query"])
            assert match, f"{name}: ${variable['name']}: {variable['query']}"
            for metric, _ in _selectors(match.group(1)):
                assert metric_catalogue.source_of(metric), f"{name}: ${variable['name']} reads {metric}"


def test_queries_read_the_sources_the_label_contract_names():
    by_board = {name: " ".join(t["expr"] for p in b["panels"] for t in p["targets"]) for name, b in ALL.items()}
    assert 'job="postgres-exporter"' in by_board["platform-postgresql.json"]
    assert 'job="redis-exporter"' in by_board["platform-redis.json"]
    overview = by_board["platform-overview.json"]
    assert 'reporter="source",source_workload="istio-ingressgateway"' in overview
    assert 'mode="idle"' in overview
    assert "node_memory_MemAvailable_bytes" in overview
    sources = {
        metric_catalogue.source_of(metric)
        for expr in (t["expr"] for p in ALL["platform-overview.json"]["panels"] for t in p["targets"])
        for metric, _ in _selectors(expr)
    }
    assert sources == {"istio", "node-exporter", "kube-state-metrics"}
    slo_metrics = {
        m for p in ALL["platform-slos.json"]["panels"] for t in p["targets"] for m, _ in _selectors(t["expr"])
    }
    # Every recording rule of the SLO contract is on the SLO dashboard: each burn-rate window, the
    # objective, the budget, what is left of it and the current burn.
    assert slo_metrics == metric_catalogue.SOURCES["slo-recording-rules"]


def test_the_email_dashboard_keeps_the_guides_panels_with_a_5xx_error_ratio():
    email = ALL["email-platform-overview.json"]
    titles = [p["title"] for p in email["panels"]]
    guide = ["System Overview", "Request Rate", "Response Time", "Error Rate", "Email Statistics"]
    assert titles[: len(guide)] == guide
    assert {"Database Connections", "Redis Memory Usage"} <= set(titles)
    error = next(p for p in email["panels"] if p["title"] == "Error Rate")
    [target] = error["targets"]
    statuses = [labels.get("status") for _, labels in _selectors(target["expr"])]
    # Numerator: 5xx only (the guide counted 4xx too); denominator: every request.
    assert statuses == [("Re", "5.."), None]
    assert error["fieldConfig"]["defaults"]["unit"] == "percentunit"
    up = next(p for p in email["panels"] if p["title"] == "System Overview")["targets"][0]["expr"]
    assert 'job=~"email-backend|postgres-exporter|redis-exporter"' in up


def test_dashboards_have_unique_stable_uids_and_the_grafana_12_schema():
    uids = [board["uid"] for board in ALL.values()]
    assert len(set(uids)) == len(uids) == 5
    assert uids == [board["uid"] for board in dashboards(include_email_platform=True).values()]
    assert uids == [
        "platform-overview",
        "platform-slos",
        "platform-postgresql",
        "platform-redis",
        "email-platform-overview",
    ]
    for name, board in ALL.items():
        assert name == f"{board['uid']}.json"
        assert board["schemaVersion"] == SCHEMA_VERSION == 41
        assert "dashboard" not in board, "the provisioner reads the bare model, not the API envelope"
        json.dumps(board)  # serialisable as the ConfigMap's JSON


def test_every_dashboard_reads_the_datasource_and_cluster_variables():
    for name, board in ALL.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["cluster"]["allValue"] == ".*", name
        assert variables["cluster"]["query"] == "label_values(up, cluster)"
        for panel in board["panels"]:
            if (name, panel["title"]) in COMPARISONS:
                # One target per cluster, each on that cluster's Prometheus, legend the cluster.
                assert [(t["legendFormat"], t["datasource"]["uid"]) for t in panel["targets"]] == sorted(
                    CLUSTER_DATA_SOURCES.items()
                )
                assert len({t["expr"] for t in panel["targets"]}) == 1
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, f"{name}: {panel['title']}"
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])


def test_the_front_door_split_compares_both_clusters_data_sources_and_grafana_has_them():
    overview = ALL["platform-overview.json"]
    assert {title for name, title in COMPARISONS if name == "platform-overview.json"} == {
        "Requests per cluster",
        "Front door split",
        "Front door split over time",
    }
    assert {title for name, title in COMPARISONS} <= {panel["title"] for panel in overview["panels"]}
    # The uids are those the MonitoringStack gives the local data source and EKS's peer one.
    for cluster in CLUSTER_DATA_SOURCES:
        values = grafana_values(cluster=cluster, admin_secret="grafana-admin", peer_data_sources=[])
        assert values["sidecar"]["datasources"]["uid"] == CLUSTER_DATA_SOURCES[cluster]


def _cells(position: dict[str, int]) -> set[tuple[int, int]]:
    return {
        (x, y)
        for x in range(position["x"], position["x"] + position["w"])
        for y in range(position["y"], position["y"] + position["h"])
    }


def test_panels_fit_the_grid_and_do_not_overlap():
    for name, board in ALL.items():
        taken: set[tuple[int, int]] = set()
        ids = [panel["id"] for panel in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), name
        for panel in board["panels"]:
            position = panel["gridPos"]
            assert position["x"] >= 0 and position["x"] + position["w"] <= 24, f"{name}: {panel['title']}"
            cells = _cells(position)
            assert not cells & taken, f"{name}: {panel['title']} overlaps another panel"
            taken |= cells


def test_the_grid_wraps_a_panel_that_does_not_fit_and_refuses_a_too_wide_one():
    grid = Grid()
    assert grid.place(16, 8) == {"h": 8, "w": 16, "x": 0, "y": 0}
    assert grid.place(12, 4) == {"h": 4, "w": 12, "x": 0, "y": 8}
    with pytest.raises(ValueError, match=re.escape("panel width must be 1..24, got 25")):
        grid.place(25, 4)


def test_the_email_dashboard_only_when_asked():
    assert set(dashboards()) == {
        "platform-overview.json",
        "platform-slos.json",
        "platform-postgresql.json",
        "platform-redis.json",
    }
    assert "email-platform-overview.json" in dashboards(include_email_platform=True)


def test_the_catalogue_names_each_metric_under_one_source():
    seen: dict[str, str] = {}
    for source, names in metric_catalogue.SOURCES.items():
        for metric in names:
            assert metric not in seen, f"{metric} in both {seen.get(metric)} and {source}"
            seen[metric] = source
    assert metric_catalogue.all_metrics() == frozenset(seen)
    assert metric_catalogue.source_of("pg_stat_activity_count") == "postgres-exporter"
    assert metric_catalogue.source_of("redis_memory_max_bytes") == "redis-exporter"
    assert metric_catalogue.source_of("no_such_metric") is None
