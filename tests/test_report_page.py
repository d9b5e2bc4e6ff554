"""report.html as a page (tools/report.py): its sections, the diff, escaping, nothing outside itself, errors.

The tables' contents are tested in tests/test_report.py, the page in a browser in
tests/test_report_browser.py.
"""

import base64
import copy
import json
import shutil

import pytest

from tests.report_fixtures import (
    OLD_CIDR,
    RETIRED,
    body_rows,
    copy_plan,
    draw_fixture_diagram,
    previous_inventory,
    render,
    section_of,
)
from tools.inventory import diff_inventories
from tools.report import SECTIONS, write_report


def test_sections_have_stable_ids_headings_and_a_table_of_contents(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    old, _ = previous_inventory(inventory)
    page, _ = render(out_dir, inventory, diff_inventories(old, inventory))
    for key, heading in SECTIONS:
        assert section_of(page, key).find_all("h2")[0].text.startswith(heading)
    nav = page.find_all("nav")[0]
    assert [a.attrs["href"] for a in nav.find_all("a")] == [f"#{key}" for key, _ in SECTIONS]
    header = {div.find_all("dt")[0].text: div.find_all("dd")[0].text for div in page.by_id("summary").find_all("div")}
    assert header["resources"] == str(inventory["resourceCount"])
    assert (header["mandatory violations"], header["advisory violations"]) == ("0", "0")
    assert header["quotas above default"] == str(len(json.loads((out_dir / "quotas.json").read_text())["aboveDefault"]))
    assert header["changes"] == "1 added, 1 removed, 1 changed, 1 output(s)"
    assert page.find_all("h1")[0].text == "Plan of stack prod"


def test_changes_are_highlighted_by_kind(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    old, nat_urn = previous_inventory(inventory)
    diff = diff_inventories(old, inventory)
    page, _ = render(out_dir, inventory, diff)
    section = section_of(page, "changes")
    vpc_urn = next(r["urn"] for r in inventory["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    assert body_rows(section, "added") == [["+", nat_urn, "added"]]
    assert body_rows(section, "removed") == [["-", vpc_urn.rsplit("::", 1)[0] + f"::{RETIRED}", "removed"]]
    changed = body_rows(section, "changed")
    assert changed == [
        ["~", vpc_urn, f'inputs.cidrBlock: "{OLD_CIDR}" → "10.30.0.0/16"'],
        ["~", "stack output", f'outputs.vpcCidr: "{OLD_CIDR}" → "10.30.0.0/16"'],
    ]
    summary = [badge.text for badge in section.find_all("span", "badge")]
    assert summary == ["1 added", "1 removed", "1 changed", "1 output(s) changed"]
    assert page.by_id("changes-hint") is None

    no_change = section_of(render(out_dir, inventory, diff_inventories(inventory, inventory))[0], "changes")
    assert no_change.text.endswith("No changes against the previous inventory.") and not no_change.find_all("table")


def test_without_a_diff_the_changes_section_is_absent_and_the_page_says_how_to_get_it(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    page, text = render(out_dir, inventory)
    assert page.by_id("changes") is None and 'href="#changes"' not in text
    assert "make plan STACK=prod DIFF=old/inventory.json" in page.by_id("changes-hint").text


def test_values_are_escaped(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "dev", tmp_path)
    hostile = '<script>alert("pwned")</script>'
    bucket = next(r for r in inventory["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    inventory["resources"].append(
        {**copy.deepcopy(bucket), "name": hostile, "urn": f"{bucket['urn']}{hostile}", "protect": True}
    )
    report = json.loads((out_dir / "policy-report.json").read_text())
    report["violations"][0]["message"] = f"x: <img src=x onerror=alert(1)> Fix: {hostile}"
    (out_dir / "policy-report.json").write_text(json.dumps(report))
    page, text = render(out_dir, inventory)
    assert "<script" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in text
    assert not page.find_all("script") and len(page.find_all("img")) == 1
    assert ["aws:s3/bucket:Bucket", hostile] in body_rows(section_of(page, "protected"))
    assert hostile in [row[4] for row in body_rows(section_of(page, "policy"))]


def test_the_page_references_nothing_outside_itself(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    icon = tmp_path / "elsewhere" / "icons" / "cloudflare.png"
    draw_fixture_diagram(out_dir / "architecture.svg", icon)
    page, text = render(out_dir, inventory)
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
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    missing = tmp_path / "gone.png"
    svg = (out_dir / "architecture.svg").read_text()
    svg = svg.replace("</svg>", f'<image xlink:href="{missing}"/><image href="https://example.com/i.png"/></svg>')
    (out_dir / "architecture.svg").write_text(svg)
    page, _ = render(out_dir, inventory)
    dropped = [li.text for li in section_of(page, "diagram").find_all("li")]
    assert dropped == [str(missing), "https://example.com/i.png"]
    decoded = base64.b64decode(page.find_all("img")[0].attrs["src"].split(",", 1)[1]).decode()
    assert str(missing) not in decoded and "example.com" not in decoded


def test_bad_plan_files_are_clear_errors(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    (out_dir / "architecture.svg").write_text("<html>not a diagram</html>")
    with pytest.raises(ValueError, match=r"architecture.svg: not an SVG document: the root element is 'html'"):
        write_report(out_dir, inventory, None)
    shutil.copy(planned("dev")[0] / "quotas.json", out_dir / "quotas.json")
    with pytest.raises(ValueError, match=r"quotas.json: is of stack 'dev', the inventory of stack 'prod'"):
        write_report(out_dir, inventory, None)
    (out_dir / "quotas.json").write_text("[]")
    with pytest.raises(ValueError, match=r"quotas.json: not a plan file \(expected a JSON object, got list\)"):
        write_report(out_dir, inventory, None)
    (out_dir / "capacity.json").write_text('{"stack": "prod", "workloads": []}')
    shutil.copy(planned("prod")[0] / "quotas.json", out_dir / "quotas.json")
    with pytest.raises(
        ValueError, match=r"capacity.json: missing targetRequestsPerSecond, assumption, pools, problems; rerun"
    ):
        write_report(out_dir, inventory, None)
    (out_dir / "policy-report.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"policy-report.json: missing"):
        write_report(out_dir, inventory, None)
    assert not (out_dir / "report.html").exists()


def test_missing_capacity_and_diagram_are_said_not_crashed(planned, tmp_path):
    out_dir, inventory = copy_plan(planned, "prod", tmp_path)
    (out_dir / "capacity.json").unlink()
    (out_dir / "architecture.svg").unlink()
    page, _ = render(out_dir, inventory)
    capacity, diagram = section_of(page, "capacity"), section_of(page, "diagram")
    assert "No capacity plan: this plan wrote no capacity.json" in capacity.find_all("p", "missing")[0].text
    assert "No diagram: this plan wrote no architecture.svg" in diagram.find_all("p", "missing")[0].text
    assert not page.find_all("img")
