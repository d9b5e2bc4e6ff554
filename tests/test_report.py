"""build/<stack>/report.html (tools/report.py): each section shows exactly what the plan's files say."""

import base64
import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from policy.rules import ALL_POLICIES
from policy.rules.framework import ResourceControl, StackControl
from tests.html_tree import Element, parse
from tests.report_fixtures import OLD_CIDR, RETIRED, draw_fixture_diagram, plan, previous_inventory
from tools import manifests
from tools.inventory import diff_inventories
from tools.report import SECTIONS, write_report
from tools.report_sections import findings

PLAN_FILES = ("policy-report.json", "quotas.json", "capacity.json", "architecture.svg")


@pytest.fixture(scope="module")
def planned(tmp_path_factory, synthed):
    """dev and prod planned once: {stack: (out_dir, inventory)}, each with a diagram."""
    root = tmp_path_factory.mktemp("build")
    plans = {stack: plan(stack, root, synthed(stack)) for stack in ("dev", "prod")}
    for out_dir, _ in plans.values():
        # Until the plan draws its own architecture.svg, the fixture's stands in.
        if not (out_dir / "architecture.svg").exists():
            draw_fixture_diagram(out_dir / "architecture.svg", root / "icons" / "cloudflare.png")
    return plans


def _copy(planned, stack: str, tmp_path: Path) -> tuple[Path, dict]:
    """The plan's files of `stack` in a directory of this test's own, safe to change."""
    source, inventory = planned[stack]
    out_dir = tmp_path / stack
    out_dir.mkdir()
    for name in PLAN_FILES:
        shutil.copy(source / name, out_dir / name)
    return out_dir, copy.deepcopy(inventory)


def _render(out_dir: Path, inventory: dict, diff=None) -> tuple[Element, str]:
    path = write_report(out_dir, inventory, diff)
    assert path == out_dir / "report.html"
    page = path.read_text()
    return parse(page), page


def _section(page: Element, key: str) -> Element:
    section = page.by_id(key)
    assert section is not None and section.tag == "section", f"no <section id={key!r}>"
    return section


def _rows(element: Element, cls: str | None = None) -> list[list[str]]:
    return [row.cells() for tbody in element.find_all("tbody") for row in tbody.find_all("tr", cls)]


def test_sections_have_stable_ids_headings_and_a_table_of_contents(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    old, _ = previous_inventory(inventory)
    page, _ = _render(out_dir, inventory, diff_inventories(old, inventory))
    for key, heading in SECTIONS:
        assert _section(page, key).find_all("h2")[0].text.startswith(heading)
    nav = page.find_all("nav")[0]
    assert [a.attrs["href"] for a in nav.find_all("a")] == [f"#{key}" for key, _ in SECTIONS]
    header = {div.find_all("dt")[0].text: div.find_all("dd")[0].text for div in page.by_id("summary").find_all("div")}
    assert header["resources"] == str(inventory["resourceCount"])
    assert (header["mandatory violations"], header["advisory violations"]) == ("0", "0")
    assert header["quotas above default"] == str(len(json.loads((out_dir / "quotas.json").read_text())["aboveDefault"]))
    assert page.find_all("h1")[0].text == "Plan of stack prod"


def test_resource_counts_equal_the_inventory_per_provider_and_type(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    page, _ = _render(out_dir, inventory)
    section = _section(page, "resources")
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
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    page, _ = _render(out_dir, inventory)
    section = _section(page, "protected")
    expected = sorted([r["type"], r["name"]] for r in inventory["resources"] if r["protect"])
    assert _rows(section) == expected
    assert ["aws:rds/instance:Instance", "heal7-prod-postgres-db"] in expected
    assert section.find_all("h2")[0].text == f"Protected resources ({len(expected)})"

    out_dir, inventory = _copy(planned, "dev", tmp_path)
    section = _section(_render(out_dir, inventory)[0], "protected")
    assert not section.find_all("table") and "No resource in this stack is protected" in section.text


def test_every_violation_appears_with_its_remediation(planned, tmp_path):
    out_dir, inventory = _copy(planned, "dev", tmp_path)
    report = json.loads((out_dir / "policy-report.json").read_text())
    assert report["advisory"] == 4 and report["mandatory"] == 0
    section = _section(_render(out_dir, inventory)[0], "policy")
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
    out_dir, inventory = _copy(planned, "dev", tmp_path)
    report = json.loads((out_dir / "policy-report.json").read_text())
    blocking = {**report["violations"][-1], "enforcement": "mandatory", "policy": "zz-blocking"}
    report["violations"].append(blocking)
    report["mandatory"] = 1
    (out_dir / "policy-report.json").write_text(json.dumps(report))
    page, _ = _render(out_dir, inventory)
    rows = _section(page, "policy").find_all("tbody")[0].find_all("tr")
    assert [r.attrs["class"] for r in rows] == ["mandatory"] + ["advisory"] * 4
    assert rows[0].cells()[1].startswith("zz-blocking")
    assert [r.cells()[1].split(" ")[0] for r in rows[1:]] == sorted(r.cells()[1].split(" ")[0] for r in rows[1:])
    summary = page.by_id("summary").find_all("div", "mandatory")[0]
    assert summary.text == "mandatory violations 1"


def test_a_plan_without_violations_says_so(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    section = _section(_render(out_dir, inventory)[0], "policy")
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
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    quotas = json.loads((out_dir / "quotas.json").read_text())
    section = _section(_render(out_dir, inventory)[0], "quotas")
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
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    capacity = json.loads((out_dir / "capacity.json").read_text())
    section = _section(_render(out_dir, inventory)[0], "capacity")
    workloads, pools = section.find_all("table")
    assert _rows(workloads) == [
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
    pool_rows = _rows(pools)
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
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    capacity = json.loads((out_dir / "capacity.json").read_text())
    capacity["workloads"][2]["servesShare"] = False
    capacity["pools"][1]["fits"] = False
    capacity["problems"] = ["heal7-prod-eks: heal7-saju-engine serves 700 rps at HPA max, its share is 800"]
    (out_dir / "capacity.json").write_text(json.dumps(capacity))
    page, _ = _render(out_dir, inventory)
    section = _section(page, "capacity")
    workloads, pools = section.find_all("table")
    assert [r.cells()[1] for r in workloads.find_all("tr", "problem")] == ["heal7-saju-engine"]
    assert [r.cells()[-1] for r in pools.find_all("tr", "problem")] == ["NO"]
    assert "serves 700 rps at HPA max" in section.by_id("capacity-problems").text
    assert page.by_id("summary").find_all("div", "mandatory")[-1].text == "capacity problems 1"


def test_missing_capacity_and_diagram_are_said_not_crashed(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    (out_dir / "capacity.json").unlink()
    (out_dir / "architecture.svg").unlink()
    page, _ = _render(out_dir, inventory)
    capacity, diagram = _section(page, "capacity"), _section(page, "diagram")
    assert "No capacity plan: this plan wrote no capacity.json" in capacity.find_all("p", "missing")[0].text
    assert "No diagram: this plan wrote no architecture.svg" in diagram.find_all("p", "missing")[0].text
    assert not page.find_all("img")


def test_charts_match_manifests_collect(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    section = _section(_render(out_dir, inventory)[0], "charts")
    clusters = manifests.collect(inventory)
    assert [h.text for h in section.find_all("h3")] == [
        f"{c.cluster} (Kubernetes {c.version})" for c in clusters.values()
    ]
    tables = section.find_all("table")
    assert len(tables) == len(clusters) == 2
    for table, cluster in zip(tables, clusters.values(), strict=True):
        assert _rows(table) == [
            [
                c.chart,
                c.repository or "(none: a local or OCI chart)",
                c.version or "unpinned",
                c.namespace or "default",
                c.release or "",
            ]
            for c in cluster.charts
        ]
    assert sum(len(_rows(t)) for t in tables) == 27
    istiod = next(row for row in _rows(tables[0]) if row[0] == "istiod")
    assert (istiod[1], istiod[3]) == ("https://istio-release.storage.googleapis.com/charts", "istio-system")


def test_changes_are_highlighted_by_kind(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    old, nat_urn = previous_inventory(inventory)
    diff = diff_inventories(old, inventory)
    page, _ = _render(out_dir, inventory, diff)
    section = _section(page, "changes")
    vpc_urn = next(r["urn"] for r in inventory["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    assert _rows(section, "added") == [["+", nat_urn, "added"]]
    assert _rows(section, "removed") == [["-", vpc_urn.rsplit("::", 1)[0] + f"::{RETIRED}", "removed"]]
    changed = _rows(section, "changed")
    assert changed == [
        ["~", vpc_urn, f'inputs.cidrBlock: "{OLD_CIDR}" → "10.30.0.0/16"'],
        ["~", "stack output", f'outputs.vpcCidr: "{OLD_CIDR}" → "10.30.0.0/16"'],
    ]
    summary = [badge.text for badge in section.find_all("span", "badge")]
    assert summary == ["1 added", "1 removed", "1 changed", "1 output(s) changed"]
    assert page.by_id("changes-hint") is None

    no_change = _section(_render(out_dir, inventory, diff_inventories(inventory, inventory))[0], "changes")
    assert no_change.text.endswith("No changes against the previous inventory.") and not no_change.find_all("table")


def test_without_a_diff_the_changes_section_is_absent_and_the_page_says_how_to_get_it(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    page, text = _render(out_dir, inventory)
    assert page.by_id("changes") is None and 'href="#changes"' not in text
    assert "make plan STACK=prod DIFF=old/inventory.json" in page.by_id("changes-hint").text


def test_values_are_escaped(planned, tmp_path):
    out_dir, inventory = _copy(planned, "dev", tmp_path)
    hostile = '<script>alert("pwned")</script>'
    bucket = next(r for r in inventory["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    inventory["resources"].append(
        {**copy.deepcopy(bucket), "name": hostile, "urn": f"{bucket['urn']}{hostile}", "protect": True}
    )
    report = json.loads((out_dir / "policy-report.json").read_text())
    report["violations"][0]["message"] = f"x: <img src=x onerror=alert(1)> Fix: {hostile}"
    (out_dir / "policy-report.json").write_text(json.dumps(report))
    page, text = _render(out_dir, inventory)
    assert "<script" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in text
    assert not page.find_all("script") and len(page.find_all("img")) == 1
    assert ["aws:s3/bucket:Bucket", hostile] in _rows(_section(page, "protected"))
    assert hostile in [row[4] for row in _rows(_section(page, "policy"))]


def test_the_page_references_nothing_outside_itself(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    icon = tmp_path / "elsewhere" / "icons" / "cloudflare.png"
    draw_fixture_diagram(out_dir / "architecture.svg", icon)
    page, text = _render(out_dir, inventory)
    for external in ('src="http', 'href="http', "<link", "<script", "url(", "@import", "file:", str(tmp_path)):
        assert external not in text, external
    assert all(a.attrs["href"].startswith("#") for a in page.find_all("a"))
    (img,) = page.find_all("img")
    prefix = "data:image/svg+xml;base64,"
    assert img.attrs["src"].startswith(prefix) and "architecture" in img.attrs["alt"]
    svg = base64.b64decode(img.attrs["src"].removeprefix(prefix)).decode()
    assert str(icon) not in svg
    inline = svg.split('xlink:href="data:image/png;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(inline) == icon.read_bytes()


def test_icons_that_cannot_be_inlined_are_dropped_and_listed(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    missing = tmp_path / "gone.png"
    svg = (out_dir / "architecture.svg").read_text()
    svg = svg.replace("</svg>", f'<image xlink:href="{missing}"/><image href="https://example.com/i.png"/></svg>')
    (out_dir / "architecture.svg").write_text(svg)
    page, _ = _render(out_dir, inventory)
    dropped = [li.text for li in _section(page, "diagram").find_all("li")]
    assert dropped == [str(missing), "https://example.com/i.png"]
    decoded = base64.b64decode(page.find_all("img")[0].attrs["src"].split(",", 1)[1]).decode()
    assert str(missing) not in decoded and "example.com" not in decoded


def test_bad_plan_files_are_clear_errors(planned, tmp_path):
    out_dir, inventory = _copy(planned, "prod", tmp_path)
    (out_dir / "architecture.svg").write_text("<html>not a diagram</html>")
    with pytest.raises(ValueError, match=r"architecture.svg: not an SVG document: the root element is 'html'"):
        write_report(out_dir, inventory, None)
    shutil.copy(planned["dev"][0] / "quotas.json", out_dir / "quotas.json")
    with pytest.raises(ValueError, match=r"quotas.json: is of stack 'dev', the inventory of stack 'prod'"):
        write_report(out_dir, inventory, None)
    (out_dir / "policy-report.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"policy-report.json: missing"):
        write_report(out_dir, inventory, None)
    assert not (out_dir / "report.html").exists()
