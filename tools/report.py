"""build/<stack>/report.html: the plan of one stack on one self-contained page.

`write_report(out_dir, inventory, diff)` is the plan's last step (tools/plan_steps.py): it reads
what the earlier steps wrote in `out_dir` (policy-report.json, quotas.json, capacity.json,
architecture.svg), takes the inventory and the optional diff against an earlier plan, and
renders tools/templates/report.html.j2 with Jinja2 (autoescape on: every resource name,
message and value is escaped). The page has inline CSS only and the diagram as a data: URI
with its icons inline (tools/report_diagram.py), so it opens from anywhere with no network and
no sibling files; it carries no timestamp, so two plans of the same code give the same page.

A plan without a stack file (a component synthesized alone) writes no capacity.json, and a
report rendered before the diagram step has no architecture.svg: their sections then say so.
The policy report and the quotas are written by every plan, so a missing one is an error.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tools.inventory import InventoryDiff
from tools.report_diagram import EmbeddedDiagram, embed_svg
from tools.report_sections import (
    as_json,
    chart_rows,
    diff_summary,
    findings,
    pool_rows,
    protected_resources,
    quota_rows,
    resource_counts,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
REPORT = "report.html"
POLICY_REPORT = "policy-report.json"
QUOTAS = "quotas.json"
CAPACITY = "capacity.json"
DIAGRAM = "architecture.svg"
# The page's sections, in order: (element id, heading). The ids are stable anchors (the
# table of contents, links from elsewhere, the browser test); `changes` is there only with a diff.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("diagram", "Architecture diagram"),
    ("resources", "Resources by provider and type"),
    ("protected", "Protected resources"),
    ("policy", "Policy findings"),
    ("capacity", "Capacity"),
    ("quotas", "Quotas the first pulumi up needs"),
    ("charts", "Pinned charts"),
    ("changes", "Changes since the previous plan"),
)


# The top-level keys the report reads from each plan file (written by tools/plan_steps.py).
REQUIRED_KEYS = {
    POLICY_REPORT: ("policies", "configFile", "mandatory", "advisory", "violations", "notEvaluated"),
    QUOTAS: ("quotas", "aboveDefault"),
    CAPACITY: ("targetRequestsPerSecond", "assumption", "workloads", "pools", "problems"),
}


def _read_json(path: Path, stack: str) -> dict[str, Any]:
    """A plan file of `stack`; a clear error when it is missing, not JSON, of another stack or
    without a key the report reads (a file of another version of the plan)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; the plan writes it before the report (run `make plan STACK={stack}`)"
        )
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a plan file (expected a JSON object, got {type(document).__name__})")
    if document.get("stack") != stack:
        raise ValueError(f"{path}: is of stack {document.get('stack')!r}, the inventory of stack {stack!r}")
    missing = [key for key in REQUIRED_KEYS.get(path.name, ()) if key not in document]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}; rerun `make plan STACK={stack}`")
    return document


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # Everything rendered comes from the program, stack files and plan files; none of it is
        # markup, so all of it is escaped. StrictUndefined: a template typo fails, not renders blank.
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["as_json"] = as_json
    return environment


def render_report(out_dir: Path, inventory: Mapping[str, Any], diff: InventoryDiff | None) -> str:
    """The page's HTML (write_report writes it)."""
    stack = inventory["stack"]
    policy_report = _read_json(out_dir / POLICY_REPORT, stack)
    quotas = _read_json(out_dir / QUOTAS, stack)
    capacity = _read_json(out_dir / CAPACITY, stack) if (out_dir / CAPACITY).is_file() else None
    diagram_path = out_dir / DIAGRAM
    diagram: EmbeddedDiagram | None = embed_svg(diagram_path) if diagram_path.is_file() else None
    sections = [(key, heading) for key, heading in SECTIONS if key != "changes" or diff is not None]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            stack=stack,
            sections=sections,
            headings=dict(SECTIONS),
            resource_count=inventory["resourceCount"],
            counts=resource_counts(inventory),
            protected=protected_resources(inventory),
            policy=policy_report,
            findings=findings(policy_report),
            capacity=capacity,
            pools=pool_rows(capacity) if capacity else [],
            quotas=quota_rows(quotas),
            above_default=quotas["aboveDefault"],
            clusters=chart_rows(inventory),
            diagram=diagram,
            diagram_file=DIAGRAM,
            capacity_file=CAPACITY,
            diff=diff,
            diff_counts=diff_summary(diff) if diff is not None else None,
        )
    )


def write_report(out_dir: Path, inventory: Mapping[str, Any], diff: InventoryDiff | None) -> Path:
    """Render out_dir/report.html from the plan's own files in out_dir (policy-report.json, quotas.json,
    capacity.json, architecture.svg) and the inventory; returns the path."""
    path = out_dir / REPORT
    path.write_text(render_report(out_dir, inventory, diff), encoding="utf-8")
    return path
