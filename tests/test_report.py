"""report.html's tables (tools/report.py): each shows exactly what the plan's files say.

The page as a whole (sections, the diff, escaping, no outside references) is tested in
tests/test_report_page.py, in a browser in tests/test_report_browser.py.
"""

import json
from collections import Counter

from policy.rules import ALL_POLICIES
from policy.rules.framework import ResourceControl, StackControl
from tests.report_fixtures import body_rows, copy_plan, render, section_of
from tools import manifests
from tools.report_sections import findings


def test_resource_counts_equal_the_inventory_per_provider_and_type(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    page, _ = render(out_dir, inventory)
    section = section_of(page, "resources")
    shown: dict[tuple[str, str], int] = {}
    provider = ""
    for row in section.find_all("tbody")[0].find_all("tr"):
        cells = row.cells()
        if len(cells) == 3:  # the first row of a provider carries its name (rowspan)
            provider = cells.pop(0)
        type_token, count = cells
        shown[(provider, type_token)] = int(count)
    resources = inventory["resources"]
    names = {r["urn"]: r["name"] for r in resources}
    expected = Counter(
        (
            names[r["provider"]] if r["provider"] in names else "(component)" if not r["custom"] else "(default)",
            r["type"],
        )
        for r in resources
        if not r["type"].startswith("pulumi:providers:")
    )
    assert shown == dict(expected)
    assert shown[("heal7-prod-aws", "aws:ec2/natGateway:NatGateway")] == 3
    providers = sum(1 for r in resources if r["type"].startswith("pulumi:providers:"))
    assert sum(shown.values()) + providers == inventory["resourceCount"]
    assert section.by_id("resource-total").text == str(inventory["resourceCount"])


def test_protected_resources_are_listed_exactly(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    page, _ = render(out_dir, inventory)
    section = section_of(page, "protected")
    expected = sorted([r["type"], r["name"]] for r in inventory["resources"] if r["protect"])
    assert body_rows(section) == expected
    assert ["aws:rds/instance:Instance", "heal7-prod-postgres-db"] in expected
    assert section.find_all("h2")[0].text == f"Protected resources ({len(expected)})"

    out_dir, inventory = copy_plan(planned, "dev", tmp_path)
    section = section_of(render(out_dir, inventory)[0], "protected")
    assert not section.find_all("table") and "No resource in this stack is protected" in section.text


def test_every_violation_appears_with_its_remediation(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "dev", tmp_path)
    report = json.loads((out_dir / "policy-report.json").read_text())
    assert report["advisory"] == 4 and report["mandatory"] == 0
    section = section_of(render(out_dir, inventory)[0], "policy")
    rows = section.find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(report["violations"])
    shown = set()
    for row in rows:
        level, policy, resource, finding, remediation = row.cells()
        shown.add((level, policy.split(" ")[0], resource.split(" ")[0], finding, remediation))
    expected = set()
    for v in report["violations"]:
        problem, remediation = v["message"].split(" Fix: ")
        finding = problem.removeprefix(f"{v['resourceName']} ({v['resourceType']}): ")
        expected.add((v["enforcement"], v["policy"], v["resourceName"], finding, remediation))
    assert shown == expected
    assert ("advisory", "rds-multi-az", "heal7-dev-postgres-db") in {s[:3] for s in shown}
    assert "set multiAz true" in {s[4] for s in shown}
    assert "0 mandatory and 4 advisory violation(s)" in section.text


def test_mandatory_findings_come_first(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "dev", tmp_path)
    report = json.loads((out_dir / "policy-report.json").read_text())
    blocking = {**report["violations"][-1], "enforcement": "mandatory", "policy": "zz-blocking"}
    report["violations"].append(blocking)
    report["mandatory"] = 1
    (out_dir / "policy-report.json").write_text(json.dumps(report))
    page, _ = render(out_dir, inventory)
    rows = section_of(page, "policy").find_all("tbody")[0].find_all("tr")
    assert [r.attrs["class"] for r in rows] == ["mandatory"] + ["advisory"] * 4
    assert rows[0].cells()[1].startswith("zz-blocking")
    assert [r.cells()[1].split(" ")[0] for r in rows[1:]] == sorted(r.cells()[1].split(" ")[0] for r in rows[1:])
    summary = page.by_id("summary").find_all("div", "mandatory")[0]
    assert summary.text == "mandatory violations 1"


def test_a_plan_without_violations_says_so(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    section = section_of(render(out_dir, inventory)[0], "policy")
    assert not section.find_all("table")
    assert "No violations: every evaluated policy passes." in section.text
    assert "104 policies evaluated with policy/config/prod.json: 0 mandatory and 0 advisory" in section.text


def test_every_policy_words_its_message_with_a_fix_and_a_message_without_one_falls_back():
    # Every control reports through framework.violation_message ("... Fix: <remediation>").
    assert all(isinstance(p, ResourceControl | StackControl) and p.remediation_steps.strip() for p in ALL_POLICIES)
    violation = {
        "enforcement": "advisory",
        "policy": "rds-multi-az",
        "severity": "high",
        "framework": "",
        "resourceType": "aws:rds/instance:Instance",
        "resourceName": "db",
        "urn": "urn:db",
        "message": "db (aws:rds/instance:Instance): a zone loss takes it down",
    }
    pack = next(p for p in ALL_POLICIES if p.name == "rds-multi-az")
    (found,) = findings({"violations": [violation]})
    assert (found.finding, found.remediation) == ("a zone loss takes it down", pack.remediation_steps)
    (unknown,) = findings({"violations": [{**violation, "policy": "not-in-the-pack"}]})
    assert unknown.remediation is None


def test_quota_rows_equal_quotas_json(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    quotas = json.loads((out_dir / "quotas.json").read_text())
    section = section_of(render(out_dir, inventory)[0], "quotas")
    rows = section.find_all("tbody")[0].find_all("tr")
    per_account = {"aws": "set per account", "gcp": "set per project"}
    expected = [
        [
            q["cloud"],
            f"{q['quota']} {q['source']}",
            q["scope"],
            str(q["needed"]),
            str(q["default"]) if q["default"] is not None else per_account[q["cloud"]],
            "above default" if q["aboveDefault"] else "check" if q["toCheck"] else "within default",
        ]
        for q in quotas["quotas"]
    ]
    assert [r.cells() for r in rows] == expected
    above = [r.cells()[1] for r in rows if "above" in r.classes]
    assert len(above) == len(quotas["aboveDefault"]) == 2
    assert any(cell.startswith("EC2-VPC Elastic IPs (L-0263D0A3)") for cell in above)


def test_capacity_rows_equal_capacity_json(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    capacity = json.loads((out_dir / "capacity.json").read_text())
    section = section_of(render(out_dir, inventory)[0], "capacity")
    workloads, pools = section.find_all("table")
    assert body_rows(workloads) == [
        [
            w["cluster"],
            w["workload"],
            w["pool"],
            f"{w['share']:g}",
            f"{w['requiredRequestsPerSecond']:g}",
            f"{w['minReplicas']}-{w['maxReplicas']}",
            str(w["requestsPerSecondAtMax"]),
            "yes" if w["servesShare"] else "NO",
        ]
        for w in capacity["workloads"]
    ]
    pool_rows = body_rows(pools)
    assert len(pool_rows) == len(capacity["pools"]) == 4
    for row, pool in zip(pool_rows, capacity["pools"], strict=True):
        assert row[:3] == [
            pool["cluster"],
            pool["pool"],
            f"{pool['maxNodes']} x {pool['machineType']} ({pool['zones']} zones)",
        ]
        assert row[7].endswith(f"({sum(p['count'] for p in pool['podsAtMax'].values())} pods)")
        assert row[8:] == [
            f"{pool['busiestZoneNodesNeeded']} / {pool['busiestZoneNodes']}",
            "yes" if pool["fits"] else "NO",
        ]
    assert "Target 10000 requests per second" in section.text


def test_capacity_problems_are_highlighted(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    capacity = json.loads((out_dir / "capacity.json").read_text())
    capacity["workloads"][2]["servesShare"] = False
    capacity["pools"][1]["fits"] = False
    capacity["problems"] = ["heal7-prod-eks: heal7-saju-engine serves 700 rps at HPA max, its share is 800"]
    (out_dir / "capacity.json").write_text(json.dumps(capacity))
    page, _ = render(out_dir, inventory)
    section = section_of(page, "capacity")
    workloads, pools = section.find_all("table")
    assert [r.cells()[1] for r in workloads.find_all("tr", "problem")] == ["heal7-saju-engine"]
    assert [r.cells()[-1] for r in pools.find_all("tr", "problem")] == ["NO"]
    assert "serves 700 rps at HPA max" in section.by_id("capacity-problems").text
    assert page.by_id("summary").find_all("div", "mandatory")[-1].text == "capacity problems 1"


def test_charts_match_manifests_collect(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    section = section_of(render(out_dir, inventory)[0], "charts")
    clusters = manifests.collect(inventory)
    assert [h.text for h in section.find_all("h3")] == [
        f"{c.cluster} (Kubernetes {c.version})" for c in clusters.values()
    ]
    tables = section.find_all("table")
    assert len(tables) == len(clusters) == 2
    for table, cluster in zip(tables, clusters.values(), strict=True):
        assert body_rows(table) == [
            [
                c.chart,
                c.repository or "(none: a local or OCI chart)",
                c.version or "unpinned",
                c.namespace or "default",
                c.release or "",
            ]
            for c in cluster.charts
        ]
    assert sum(len(body_rows(t)) for t in tables) == 27
    istiod = next(row for row in body_rows(tables[0]) if row[0] == "istiod")
    assert (istiod[1], istiod[3]) == ("https://istio-release.storage.googleapis.com/charts", "istio-system")
