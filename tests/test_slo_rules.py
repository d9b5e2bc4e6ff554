"""SLO rules: the recording rules the SLO dashboard reads (Sloth's names), and multi-window,
multi-burn-rate alerts proven by promtool: a fast burn pages within minutes, a slow burn only opens a
ticket, no burn and no traffic stay silent.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from components.kubernetes.observability.slo_rules import (
    PAGE_WINDOWS,
    TICKET_WINDOWS,
    SloTarget,
    burn_rate_factor,
    slo_rule_groups,
)
from tests.promtool import alert_test, check_rules, expected_alert, rule_for, run_rule_tests, series, write_rule_file

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
BASE = "https://github.com/heal7/multicloud-platform/blob/main/docs/runbooks"
WEB = SloTarget("heal7-web-main", "heal7-production", team="backend")
EMAIL = SloTarget("email-backend", "email-platform", team="email")
AVAILABILITY = {"slo": "heal7-web-main-availability", "service": "heal7-web-main", "namespace": "heal7-production"}
LATENCY = {"slo": "heal7-web-main-latency", "service": "heal7-web-main", "namespace": "heal7-production"}
RECORDINGS = {
    *(f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")),
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
}


def _groups() -> list[dict[str, Any]]:
    return slo_rule_groups([WEB, EMAIL], runbook_base_url=BASE)


def test_one_group_per_slo_recordings_before_alerts() -> None:
    groups = _groups()
    assert [g["name"] for g in groups] == [
        f"slo-{workload}-{slo}"
        for workload in ("heal7-web-main", "email-backend")
        for slo in ("availability", "latency")
    ]
    for group in groups:
        kinds = ["record" if "record" in r else "alert" for r in group["rules"]]
        assert kinds == ["record"] * 14 + ["alert"] * 2, group["name"]
        records = [r["record"] for r in group["rules"] if "record" in r]
        # Each recording reads only recordings before it (a group's rules run in order).
        for i, rule in enumerate(group["rules"]):
            used = set(re.findall(r"slo:[a-z_]+:[a-z_0-9]+", rule["expr"]))
            assert used <= set(records[:i]), f"{group['name']}: {rule.get('record') or rule['alert']} reads {used}"


def test_recording_rules_carry_the_contracts_names_and_labels() -> None:
    groups = _groups()
    for slo in ("heal7-web-main-availability", "heal7-web-main-latency"):
        records = [r for g in groups if g["name"] == f"slo-{slo}" for r in g["rules"] if "record" in r]
        assert {r["record"] for r in records} == RECORDINGS
        for r in records:
            assert r["labels"] == {"slo": slo, "service": "heal7-web-main", "namespace": "heal7-production"}
    objective = {
        r["labels"]["slo"]: r["expr"] for g in groups for r in g["rules"] if r.get("record") == "slo:objective:ratio"
    }
    assert objective["heal7-web-main-availability"] == "vector(0.999)"
    assert objective["heal7-web-main-latency"] == "vector(0.95)"
    budget = {
        r["labels"]["slo"]: r["expr"] for g in groups for r in g["rules"] if r.get("record") == "slo:error_budget:ratio"
    }
    assert budget["heal7-web-main-availability"] == "vector(0.001)"
    latency_5m = next(
        r["expr"]
        for g in groups
        if g["name"] == "slo-heal7-web-main-latency"
        for r in g["rules"]
        if r.get("record") == "slo:sli_error:ratio_rate5m"
    )
    assert 'istio_request_duration_milliseconds_bucket{reporter="destination"' in latency_5m
    assert 'le=~"500(\\\\.0)?"' in latency_5m


def test_burn_rates_are_the_sre_workbooks_for_30_days() -> None:
    assert [burn_rate_factor(w, 30) for w in PAGE_WINDOWS] == [14.4, 6]
    assert [burn_rate_factor(w, 30) for w in TICKET_WINDOWS] == [3, 1]
    assert [(w.long, w.short) for w in PAGE_WINDOWS + TICKET_WINDOWS] == [
        ("1h", "5m"),
        ("6h", "30m"),
        ("1d", "2h"),
        ("3d", "6h"),
    ]
    page = rule_for(_groups(), "SLOAvailabilityBurnRateHigh", severity="critical", service="heal7-web-main")
    ticket = rule_for(_groups(), "SLOAvailabilityBurnRateHigh", severity="warning", service="heal7-web-main")
    assert page["for"] == "2m" and ticket["for"] == "15m"
    assert "slo:sli_error:ratio_rate1h" in page["expr"] and "> 14.4" in page["expr"]
    assert "slo:sli_error:ratio_rate3d" in ticket["expr"] and "> 1\n" in ticket["expr"]


def test_slo_alerts_carry_team_service_and_a_runbook_section() -> None:
    page = (RUNBOOKS / "slo.md").read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", page, re.M)
    }
    alerts = [r for g in _groups() for r in g["rules"] if "alert" in r]
    assert len(alerts) == 8  # 2 workloads x 2 SLOs x (page, ticket)
    for rule in alerts:
        assert rule["alert"] in ("SLOAvailabilityBurnRateHigh", "SLOLatencyBurnRateHigh")
        assert rule["labels"]["team"] == ("backend" if rule["labels"]["service"] == "heal7-web-main" else "email")
        assert rule["annotations"]["runbook_url"] == f"{BASE}/slo.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            [SloTarget("web", "prod", "backend", latency_threshold_ms=300)],
            "latency_threshold_ms must be one of Istio's",
        ),
        ([SloTarget("web", "prod", "backend", availability=1.0)], "availability must be a fraction between 0 and 1"),
        ([SloTarget("web", "prod", "backend", latency_objective=0)], "latency_objective must be a fraction"),
        ([SloTarget("web", "prod", "sre")], "team must be one of"),
        ([WEB, WEB], "each workload once, got 'heal7-web-main'"),
    ],
)
def test_bad_targets_are_refused(targets: list[SloTarget], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        slo_rule_groups(targets, runbook_base_url=BASE)


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    out = check_rules(write_rule_file(tmp_path, "slo.yaml", _groups()))
    assert "SUCCESS: 64 rules found" in out  # 4 SLOs x (8 SLI + 6 meta recordings + 2 alerts)


# --- promtool unit tests ---------------------------------------------------------------------------


def _requests(code: str, values: str) -> dict[str, str]:
    labels = {
        "reporter": "destination",
        "destination_workload": "heal7-web-main",
        "destination_workload_namespace": "heal7-production",
        "response_code": code,
    }
    return series("istio_requests_total", labels, values)


def _durations(fast_per_minute: int, total_per_minute: int, le: str = "500") -> list[dict[str, str]]:
    labels = {
        "reporter": "destination",
        "destination_workload": "heal7-web-main",
        "destination_workload_namespace": "heal7-production",
    }
    return [
        series("istio_request_duration_milliseconds_bucket", {**labels, "le": le}, f"0+{fast_per_minute}x360"),
        series("istio_request_duration_milliseconds_bucket", {**labels, "le": "+Inf"}, f"0+{total_per_minute}x360"),
        series("istio_request_duration_milliseconds_count", labels, f"0+{total_per_minute}x360"),
    ]


def _expr_test(metric: str, labels: dict[str, str], eval_time: str, value: float | None) -> dict[str, Any]:
    """`metric` of the SLO at `eval_time` is `value` to 6 decimals (promtool compares floats exactly, and
    the averages carry binary noise: -19.000000000000004), or absent when `value` is None."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {
        "expr": f'round({metric}{{slo="{labels["slo"]}"}}, 0.000001)',
        "eval_time": eval_time,
        "exp_samples": [] if value is None else [{"labels": f"{{{inner}}}", "value": value}],
    }


def _availability_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    page = rule_for(g, "SLOAvailabilityBurnRateHigh", severity="critical", service="heal7-web-main")
    ticket = rule_for(g, "SLOAvailabilityBurnRateHigh", severity="warning", service="heal7-web-main")
    name = "SLOAvailabilityBurnRateHigh"
    return [
        {
            # Fast burn: 2 % of requests fail, 20x the 0.1 % budget. Pages once 5 m of burn exceed 14.4x
            # and `for` (2 m) has passed: within 5 + 2 minutes; the ticket waits its 15 m.
            "input_series": [_requests("200", "0+980x120"), _requests("500", "0+20x120")],
            "alert_rule_test": [
                alert_test(name, "2m", []),
                alert_test(name, "7m", [expected_alert(page, AVAILABILITY, 20)]),
                alert_test(
                    name, "20m", [expected_alert(page, AVAILABILITY, 20), expected_alert(ticket, AVAILABILITY, 20)]
                ),
            ],
            "promql_expr_test": [
                _expr_test("slo:sli_error:ratio_rate5m", AVAILABILITY, "10m", 0.02),
                _expr_test("slo:current_burn_rate:ratio", AVAILABILITY, "10m", 20),
                # The 30-day average has only these 10 minutes, so it reads as a month at 20x: 1 - 20 = -19.
                _expr_test("slo:period_error_budget_remaining:ratio", AVAILABILITY, "10m", -19),
            ],
        },
        {
            # The same burn after an hour of clean traffic: the 6h/30m pair crosses 6x after 26 minutes
            # of burn (page at about 88 m), the 1h/5m pair would need 43. The ticket comes first: its
            # 3d/6h pair crosses 1x after 4 minutes (firing at about 79 m): at 80 m 400 errors of 80,000
            # requests = 5x. At 95 m, 700 of 95,000 = 7.368x, page and ticket.
            "input_series": [_requests("200", "0+1000x60 60980+980x60"), _requests("500", "0x60 20+20x60")],
            "alert_rule_test": [
                alert_test(name, "80m", [expected_alert(ticket, AVAILABILITY, 400 / 80000 / 0.001)]),
                alert_test(
                    name,
                    "95m",
                    [
                        expected_alert(page, AVAILABILITY, 700 / 95000 / 0.001),
                        expected_alert(ticket, AVAILABILITY, 700 / 95000 / 0.001),
                    ],
                ),
            ],
        },
        {
            # Slow burn: 0.2 % failing, 2x the budget. Only the 3d/6h pair (over 1x) holds: a ticket
            # after 15 m, and never a page, even hours later.
            "input_series": [_requests("200", "0+998x300"), _requests("500", "0+2x300")],
            "alert_rule_test": [
                alert_test(name, "10m", []),
                alert_test(name, "30m", [expected_alert(ticket, AVAILABILITY, 2)]),
                alert_test(name, "5h", [expected_alert(ticket, AVAILABILITY, 2)]),
            ],
        },
        {
            # No burn: no 5xx series at all. Silent, and the ratio is 0 (not missing), the budget whole.
            "input_series": [_requests("200", "0+1000x120")],
            "alert_rule_test": [alert_test(name, "30m", []), alert_test(name, "2h", [])],
            "promql_expr_test": [
                _expr_test("slo:sli_error:ratio_rate5m", AVAILABILITY, "30m", 0),
                _expr_test("slo:period_error_budget_remaining:ratio", AVAILABILITY, "30m", 1),
                _expr_test("slo:objective:ratio", AVAILABILITY, "30m", 0.999),
                _expr_test("slo:error_budget:ratio", AVAILABILITY, "30m", 0.001),
                _expr_test("slo:time_period:days", AVAILABILITY, "30m", 30),
            ],
        },
        {
            # No traffic: no ratio sample at all (0/0 would be NaN and poison the 30-day average).
            "input_series": [_requests("200", "0x60"), _requests("500", "0x60")],
            "alert_rule_test": [alert_test(name, "30m", [])],
            "promql_expr_test": [
                _expr_test("slo:sli_error:ratio_rate5m", AVAILABILITY, "30m", None),
                _expr_test("slo:sli_error:ratio_rate30d", AVAILABILITY, "30m", None),
            ],
        },
    ]


def _latency_cases(g: list[dict[str, Any]]) -> list[dict[str, Any]]:
    page = rule_for(g, "SLOLatencyBurnRateHigh", severity="critical", service="heal7-web-main")
    ticket = rule_for(g, "SLOLatencyBurnRateHigh", severity="warning", service="heal7-web-main")
    name = "SLOLatencyBurnRateHigh"
    return [
        {
            # Every request over 500 ms: an error ratio of 1, 20x the 5 % budget of p95 < 500 ms.
            "input_series": _durations(fast_per_minute=0, total_per_minute=100),
            "alert_rule_test": [
                alert_test(name, "2m", []),
                alert_test(name, "7m", [expected_alert(page, LATENCY, 20)]),
            ],
            "promql_expr_test": [_expr_test("slo:current_burn_rate:ratio", LATENCY, "10m", 20)],
        },
        {
            # 10 % over 500 ms: 2x the budget, a ticket only. `le="500.0"` as Prometheus 3 stores it.
            "input_series": _durations(fast_per_minute=900, total_per_minute=1000, le="500.0"),
            "alert_rule_test": [
                alert_test(name, "10m", []),
                alert_test(name, "30m", [expected_alert(ticket, LATENCY, 2)]),
                alert_test(name, "5h", [expected_alert(ticket, LATENCY, 2)]),
            ],
        },
        {
            # 1 % over 500 ms: within the p95 objective, silent.
            "input_series": _durations(fast_per_minute=990, total_per_minute=1000),
            "alert_rule_test": [alert_test(name, "30m", []), alert_test(name, "5h", [])],
        },
    ]


def test_burn_rate_alerts_under_promtool(tmp_path: Path) -> None:
    groups = slo_rule_groups([WEB], runbook_base_url=BASE)
    cases = _availability_cases(groups) + _latency_cases(groups)
    rule_file = write_rule_file(tmp_path, "slo.yaml", groups)
    run_rule_tests(tmp_path, rule_file, [{"interval": "1m", **case} for case in cases])
