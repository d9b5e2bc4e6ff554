"""SLO recording rules and multi-window, multi-burn-rate alerts for the public workloads.

Two SLOs per workload, the HEAL7 design's targets: availability 99.9 % (5xx among all requests) and
latency p95 < 500 ms (95 % of requests under 500 ms), both from the mesh's request metrics seen by the
workload's own sidecar (reporter="destination"). Names follow Sloth: per SLO the SLI recordings
(`slo:sli_error:ratio_rate<window>`), the metadata recordings (objective, budget, burn rates, remaining
budget) and the alerts, in one group per SLO (see `_slo_groups`), with the labels `slo` (`<workload>-availability` |
`<workload>-latency`), `service` (the workload) and `namespace` on every series.

Alerts follow the SRE workbook's multiwindow, multi-burn-rate table: a page when the last hour and
5 minutes both burn over 14.4x (2 % of a 30-day budget in an hour) or 6 hours and 30 minutes over 6x
(5 % in 6 hours); a ticket when a day and 2 hours burn over 3x (10 % in a day) or 3 days and 6 hours
over 1x (10 % in 3 days). The short window of each pair makes the alert stop soon after the burn does.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._rule_builder import alert_rule, check_name, check_runbook_base_url, check_team

# Istio's default request-duration buckets (ms). A latency threshold must be one of them: the SLI reads
# the bucket whose `le` is the threshold, and a threshold between buckets would select nothing.
ISTIO_DURATION_BUCKETS_MS = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip

# The windows the alerts read (Sloth records the same set).
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_WINDOW_HOURS = {"5m": 5 / 60, "30m": 0.5, "1h": 1, "2h": 2, "6h": 6, "1d": 24, "3d": 72}


@dataclass(frozen=True)
class BurnRateWindow:
    """One row of the SRE workbook's table: alert when `long` and `short` both burn faster than the
    rate that would spend `budget_spent` of the period's error budget within `long`."""

    long: str
    short: str
    budget_spent: float


# The SRE workbook's pairs. For a 30-day period the burn rates come out at 14.4, 6, 3 and 1.
PAGE_WINDOWS = (BurnRateWindow("1h", "5m", 0.02), BurnRateWindow("6h", "30m", 0.05))
TICKET_WINDOWS = (BurnRateWindow("1d", "2h", 0.10), BurnRateWindow("3d", "6h", 0.10))
# `for`: the short window already filters a blip (a 5-minute ratio over 14.4x needs minutes of errors),
# so `for` only has to outlast one evaluation's noise. 2 m for the page (Pyrra's value for the 1h/5m pair)
# keeps a fast burn paging within about 5 + 2 minutes; 15 m for the ticket, which nobody acts on within
# the hour anyway (Pyrra uses 15 m for its 6h/30m pair; Sloth sets none).
PAGE_FOR = "2m"
TICKET_FOR = "15m"

AVAILABILITY_ALERT = "SLOAvailabilityBurnRateHigh"
LATENCY_ALERT = "SLOLatencyBurnRateHigh"


@dataclass(frozen=True)
class SloTarget:
    """A public workload's SLOs (the HEAL7 design's performance targets)."""

    workload: str
    """The workload's name: Istio's `destination_workload`, and the SLO series' `service` label."""
    namespace: str
    """Its namespace: Istio's `destination_workload_namespace`."""
    team: str
    """The `team` label of its SLO alerts (Alertmanager routes tickets by team)."""
    availability: float = 0.999
    """Default 0.999 (the HEAL7 design's 99.9 %): the share of requests that must not answer 5xx."""
    latency_threshold_ms: int = 500
    """Default 500 ms (the HEAL7 design's p95 < 500 ms); must be one of Istio's duration buckets."""
    latency_objective: float = 0.95
    """Default 0.95 (the p95 of the HEAL7 design): the share of requests that must finish under the threshold."""


def slo_rule_groups(
    targets: Sequence[SloTarget], *, runbook_base_url: str, period_days: int = 30, cluster: str | None = None
) -> list[dict[str, Any]]:
    """Per target and objective one group `slo-<workload>-<availability|latency>`: the SLI recordings,
    the metadata recordings, then the alerts. `cluster` (default none) labels every series, so the
    SLO dashboard's cluster filter finds them (a sum drops the scraped series' `cluster`)."""
    check_runbook_base_url(runbook_base_url)
    if not 1 <= period_days <= 365:
        raise ValueError(f"period_days: must be 1-365 days, got {period_days}")
    seen: set[str] = set()
    groups: list[dict[str, Any]] = []
    for target in targets:
        _check_target(target)
        if target.workload in seen:
            raise ValueError(f"SLO targets: each workload once, got {target.workload!r} more than once")
        seen.add(target.workload)
        for slo in (_availability(target), _latency(target)):
            groups += _slo_groups(slo, target, runbook_base_url, period_days, cluster)
    return groups


@dataclass(frozen=True)
class _Slo:
    name: str  # the `slo` label
    kind: str  # availability | latency
    objective: float
    alert: str
    error_ratio: str  # PromQL with {window}


def _selector(target: SloTarget) -> str:
    return (
        f'reporter="destination", destination_workload_namespace="{target.namespace}", '
        f'destination_workload="{target.workload}"'
    )


def _availability(target: SloTarget) -> _Slo:
    sel = _selector(target)
    total = f"sum(rate(istio_requests_total{{{sel}}}[{{window}}]))"
    # No 5xx series at all is a ratio of 0, not a missing one (`or 0 * total`); no traffic at all is no
    # sample (`total > 0`), not NaN, which would poison the 30-day average for 30 days.
    errors = f'(sum(rate(istio_requests_total{{{sel}, response_code=~"5.."}}[{{window}}])) or 0 * {total})'
    return _Slo(f"{target.workload}-availability", "availability", target.availability, AVAILABILITY_ALERT,
                f"{errors}\n/\n({total} > 0)")  # fmt: skip


def _latency(target: SloTarget) -> _Slo:
    sel = _selector(target)
    # Prometheus 3 stores classic histograms' `le` normalised ("500.0"), Prometheus 2 as exposed ("500").
    le = f'le=~"{target.latency_threshold_ms}(\\\\.0)?"'
    fast = f"sum(rate(istio_request_duration_milliseconds_bucket{{{sel}, {le}}}[{{window}}]))"
    total = f"sum(rate(istio_request_duration_milliseconds_count{{{sel}}}[{{window}}]))"
    return _Slo(f"{target.workload}-latency", "latency", target.latency_objective, LATENCY_ALERT,
                f"1 - (\n{fast}\n/\n({total} > 0)\n)")  # fmt: skip


def _fmt(value: float) -> str:
    """A float as PromQL reads it, without binary noise (1 - 0.999 is 0.0010000000000000009)."""
    return f"{round(value, 10):.10g}"


def _slo_groups(slo: _Slo, target: SloTarget, base: str, period_days: int, cluster: str | None) -> list[dict[str, Any]]:
    # A copy per rule: shared dicts would come out of a YAML dump as anchors and aliases.
    def labels() -> dict[str, str]:
        own = {"cluster": cluster} if cluster else {}
        return {"slo": slo.name, "service": target.workload, "namespace": target.namespace, **own}

    match = f'{{slo="{slo.name}"}}'
    on = "on (slo, service, namespace)"
    budget = 1 - slo.objective
    period = f"{period_days}d"
    sli = [
        {"record": f"slo:sli_error:ratio_rate{w}", "expr": slo.error_ratio.replace("{window}", w), "labels": labels()}
        for w in SLI_WINDOWS
    ]
    # The period's ratio averages the 5-minute ratios (Sloth's way): a raw 30-day rate over the mesh's
    # request counters would read a month of samples every evaluation.
    sli.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"avg_over_time(slo:sli_error:ratio_rate5m{match}[{period}])",
            "labels": labels(),
        }
    )
    meta = [
        {"record": "slo:objective:ratio", "expr": f"vector({_fmt(slo.objective)})", "labels": labels()},
        {"record": "slo:error_budget:ratio", "expr": f"vector({_fmt(budget)})", "labels": labels()},
        {"record": "slo:time_period:days", "expr": f"vector({period_days})", "labels": labels()},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{match}\n/ {on}\nslo:error_budget:ratio{match}",
            "labels": labels(),
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{match}\n/ {on}\nslo:error_budget:ratio{match}",
            "labels": labels(),
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{match}",
            "labels": labels(),
        },
    ]
    alerts = [
        _burn_alert(slo, target, base, period_days, "critical", PAGE_WINDOWS, PAGE_FOR),
        _burn_alert(slo, target, base, period_days, "warning", TICKET_WINDOWS, TICKET_FOR),
    ]
    # One group, in dependency order, where Sloth has three (SLI, metadata, alerts): Prometheus runs
    # groups concurrently and a group's rules in order, so the alerts and the burn rates always read
    # this evaluation's ratios instead of, at random, the previous one's.
    return [{"name": f"slo-{slo.name}", "rules": sli + meta + alerts}]


def burn_rate_factor(window: BurnRateWindow, period_days: int) -> float:
    """How many times faster than allowed the budget burns when `budget_spent` of it goes in `long`."""
    return round(window.budget_spent * period_days * 24 / _WINDOW_HOURS[window.long], 6)


def _burn_alert(
    slo: _Slo,
    target: SloTarget,
    base: str,
    period_days: int,
    severity: str,
    windows: Sequence[BurnRateWindow],
    for_: str,
) -> dict[str, Any]:
    budget = _fmt(1 - slo.objective)
    match = f'{{slo="{slo.name}"}}'
    pairs = []
    conditions = []
    for w in windows:
        factor = burn_rate_factor(w, period_days)
        pairs.append(
            f"(\n  slo:sli_error:ratio_rate{w.long}{match} / {budget} > {_fmt(factor)}\n"
            f"  and\n  slo:sli_error:ratio_rate{w.short}{match} / {budget} > {_fmt(factor)}\n)"
        )
        conditions.append(f"over {_fmt(factor)}x for {w.long} and {w.short}")
    hours_left = period_days * 24 / burn_rate_factor(windows[0], period_days)
    speed = "fast" if severity == "critical" else "steadily"
    what = "5xx answers" if slo.kind == "availability" else f"requests slower than {target.latency_threshold_ms} ms"
    return alert_rule(
        slo.alert,
        family="slo",
        expr="\nor\n".join(pairs),
        for_=for_,
        severity=severity,
        team=target.team,
        service=target.workload,
        summary=f"{target.workload} burns its {slo.kind} error budget {speed}",
        description=(
            f"{target.namespace}/{target.workload} ({what}; objective {slo.objective * 100:g} % over "
            f"{period_days} days) burns its error budget at {{{{ $value | humanize }}}}x the sustainable rate: "
            f"{' or '.join(conditions)}. At {_fmt(burn_rate_factor(windows[0], period_days))}x the whole "
            f"budget is gone in {_duration(hours_left)}."
        ),
        runbook_base_url=base,
    )


def _duration(hours: float) -> str:
    return f"{hours:g} hours" if hours < 72 else f"{hours / 24:g} days"


def _check_target(target: SloTarget) -> None:
    what = f"SLO target {target.workload!r}"
    check_name(f"{what}: workload", target.workload)
    check_name(f"{what}: namespace", target.namespace)
    check_team(what, target.team)
    for field, value in (("availability", target.availability), ("latency_objective", target.latency_objective)):
        if not (0 < value < 1) or math.isnan(value):
            raise ValueError(f"{what}: {field} must be a fraction between 0 and 1 exclusive, got {value}")
    if target.latency_threshold_ms not in ISTIO_DURATION_BUCKETS_MS:
        raise ValueError(
            f"{what}: latency_threshold_ms must be one of Istio's duration buckets "
            f"({', '.join(f'{b:g}' for b in ISTIO_DURATION_BUCKETS_MS)}), got {target.latency_threshold_ms}"
        )
