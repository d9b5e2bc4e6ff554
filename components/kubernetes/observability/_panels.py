"""Grafana dashboard JSON builders: panels, template variables and a grid that places panels without
overlap. The JSON is Grafana 12's dashboard model (schema version 41), the bare model that file
provisioning (the chart's dashboard sidecar) reads, not the HTTP API's {"dashboard": ...} envelope the
email-platform ops guide's JSON is wrapped in.
"""

from dataclasses import dataclass, field
from typing import Any

# Grafana 12.0 writes schema version 41; later 12.x releases migrate 41 forward on load (a no-op for
# these dashboards), while a newer version than the running Grafana knows would be refused.
SCHEMA_VERSION = 41
GRID_WIDTH = 24

# Every panel and target reads the data source the viewer picks in the `datasource` variable, so the
# same dashboard shows the EKS or the GKE Prometheus (or a store holding both).
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# The cluster filter every query carries. `cluster` is the external label of the contract; with "All"
# (allValue .*) it also matches series that carry no `cluster` label at all, which is what a cluster's
# own Prometheus stores (external labels are added only on the way out).
CLUSTER = 'cluster=~"$cluster"'

Target = tuple[str, str]
"""(PromQL expression, legend format)."""


@dataclass
class Grid:
    """Places panels left to right in rows of Grafana's 24 columns."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    placed: list[dict[str, int]] = field(default_factory=list)

    def place(self, w: int, h: int) -> dict[str, int]:
        if not 0 < w <= GRID_WIDTH:
            raise ValueError(f"panel width must be 1..{GRID_WIDTH}, got {w}")
        if self.x + w > GRID_WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        position = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_height = max(self.row_height, h)
        self.placed.append(position)
        return position


def _targets(targets: list[Target], instant: bool) -> list[dict[str, Any]]:
    return [
        {
            "refId": chr(ord("A") + index),
            "datasource": DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "range": not instant,
            "instant": instant,
        }
        for index, (expr, legend) in enumerate(targets)
    ]


def _thresholds(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def _panel(
    kind: str, title: str, description: str, grid_pos: dict[str, int], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": grid_pos,
        "targets": targets,
    }


def timeseries(
    grid: Grid,
    title: str,
    description: str,
    targets: list[Target],
    unit: str,
    *,
    w: int = 12,
    h: int = 8,
    stacking: str = "none",
    thresholds: list[tuple[str, float | None]] | None = None,
) -> dict[str, Any]:
    """A time series panel; `stacking` "percent" draws shares (the front door's split)."""
    custom: dict[str, Any] = {"drawStyle": "line", "fillOpacity": 10, "stacking": {"mode": stacking, "group": "A"}}
    if thresholds:
        # Dashed lines at the thresholds: the burn-rate panel shows where alerts fire.
        custom["thresholdsStyle"] = {"mode": "dashed"}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if thresholds:
        defaults["thresholds"] = _thresholds(thresholds)
    panel = _panel("timeseries", title, description, grid.place(w, h), _targets(targets, instant=False))
    panel["fieldConfig"] = {"defaults": defaults, "overrides": []}
    panel["options"] = {
        "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def stat(
    grid: Grid,
    title: str,
    description: str,
    targets: list[Target],
    unit: str,
    thresholds: list[tuple[str, float | None]],
    *,
    w: int = 6,
    h: int = 4,
    kind: str = "stat",
) -> dict[str, Any]:
    """A single-value panel of the latest value (`kind` "stat", "gauge" or "bargauge")."""
    panel = _panel(kind, title, description, grid.place(w, h), _targets(targets, instant=True))
    panel["fieldConfig"] = {"defaults": {"unit": unit, "thresholds": _thresholds(thresholds)}, "overrides": []}
    panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    if kind == "stat":
        panel["options"] |= {"colorMode": "background", "graphMode": "area", "textMode": "value_and_name"}
    return panel


def piechart(
    grid: Grid, title: str, description: str, targets: list[Target], *, w: int = 8, h: int = 8
) -> dict[str, Any]:
    """A share of a whole at the latest value (the front door's split between the clusters)."""
    panel = _panel("piechart", title, description, grid.place(w, h), _targets(targets, instant=True))
    panel["fieldConfig"] = {"defaults": {"unit": "reqps"}, "overrides": []}
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "pieType": "donut",
        "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["value", "percent"]},
    }
    return panel


# Grafana's pseudo data source whose targets each name their own.
MIXED = {"type": "datasource", "uid": "-- Mixed --"}


def across_data_sources(panel: dict[str, Any], expr: str, data_sources: dict[str, str]) -> dict[str, Any]:
    """`panel` querying `expr` once in each named data source (legend -> uid), side by side: a
    comparison of the two clusters' Prometheus servers, which share no store."""
    instant = panel["targets"][0]["instant"]
    panel = {**panel, "datasource": MIXED}
    panel["targets"] = [
        {
            "refId": chr(ord("A") + index),
            "datasource": {"type": "prometheus", "uid": uid},
            "expr": expr,
            "legendFormat": legend,
            "range": not instant,
            "instant": instant,
        }
        for index, (legend, uid) in enumerate(sorted(data_sources.items()))
    ]
    return panel


def datasource_variable() -> dict[str, Any]:
    """The `datasource` variable: any Prometheus data source Grafana knows."""
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "regex": "",
        "refresh": 1,
        "hide": 0,
        "current": {},
        "options": [],
    }


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-select variable filled from the data source (`label_values(<selector>, <label>)`), with
    All matching everything, series without the label included."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        # Refresh on time-range change, so a new workload or cluster shows up without a reload.
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "regex": "",
        "hide": 0,
        "options": [],
    }


def dashboard(
    uid: str, title: str, tags: list[str], panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    """The dashboard model; panel ids are their order, so they stay stable across renders."""
    if len(uid) > 40:
        raise ValueError(f"dashboard uid {uid!r}: Grafana allows at most 40 characters")
    return {
        "uid": uid,
        "title": title,
        "tags": tags,
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        # Provisioned from the repository: edits in the UI cannot be saved, code is the source.
        "editable": False,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": [{"id": index + 1, **panel} for index, panel in enumerate(panels)],
    }
