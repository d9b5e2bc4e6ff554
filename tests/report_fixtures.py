"""What the report tests render from: a real plan's files, a diagram with an icon, an earlier inventory.

The diagram is drawn here by hand in the form Graphviz (and so the `diagrams` package) writes:
the SVG 1.1 doctype, and the node icon as `<image xlink:href="/absolute/path.png">`, the file
reference the report must put inline. The icon is one flat colour, so the browser test can find
it in a screenshot and prove it was inlined and drawn.
"""

import copy
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console

from tests.html_tree import Element, parse
from tools.inventory import InventoryDiff
from tools.plan import run_plan
from tools.report import write_report
from tools.synth import SynthResult

PLAN_FILES = ("policy-report.json", "quotas.json", "capacity.json", "architecture.svg")

DIAGRAM_SIZE = (640, 240)
"""The fixture SVG's size in CSS pixels (width, height)."""
ICON_BOX = (24, 80, 96, 96)
"""Where the icon is drawn in the SVG: x, y, width, height (CSS pixels)."""
ICON_COLOUR = (201, 31, 148)
"""A magenta no part of the report's own palette uses."""


def draw_fixture_diagram(svg_path: Path, icon_path: Path) -> None:
    """A small architecture SVG at `svg_path` whose node icon is the file `icon_path` (absolute)."""
    icon_path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), ICON_COLOUR).save(icon_path)
    width, height = DIAGRAM_SIZE
    x, y, w, h = ICON_BOX
    svg_path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"
 "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg width="{width}px" height="{height}px" viewBox="0 0 {width} {height}"
 xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<title>architecture</title>
<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>
<image xlink:href="{icon_path}" width="{w}px" height="{h}px" preserveAspectRatio="xMinYMin meet" x="{x}" y="{y}"/>
<text x="{x + w / 2}" y="{y + h + 20}" text-anchor="middle" font-family="Sans-Serif" font-size="14" fill="#2d3436">Cloudflare</text>
<rect x="260" y="30" width="150" height="60" fill="#c8e6c9" stroke="#1b5e20"/>
<text x="335" y="66" text-anchor="middle" font-family="Sans-Serif" font-size="16" fill="#1b5e20">EKS (AWS)</text>
<rect x="260" y="150" width="150" height="60" fill="#bbdefb" stroke="#0d47a1"/>
<text x="335" y="186" text-anchor="middle" font-family="Sans-Serif" font-size="16" fill="#0d47a1">GKE (GCP)</text>
<rect x="470" y="90" width="150" height="60" fill="#ffe0b2" stroke="#e65100"/>
<text x="545" y="126" text-anchor="middle" font-family="Sans-Serif" font-size="16" fill="#e65100">RDS / Cloud SQL</text>
<path d="M{x + w},{y + h / 2} L260,60 M{x + w},{y + h / 2} L260,180 M410,60 L470,120 M410,180 L470,120"
 stroke="#37474f" stroke-width="2" fill="none"/>
</svg>
"""
    )


def plan(stack: str, root: Path, result: SynthResult) -> tuple[Path, dict[str, Any]]:
    """Plan `stack` into `root` (its build/ tree) from a cached synth; (its out_dir, its inventory)."""
    context = run_plan(stack, root, console=Console(file=io.StringIO(), width=200), result=result)
    return context.out_dir, context.inventory


RETIRED = "heal7-prod-retired-vpc"
OLD_CIDR = "10.29.0.0/16"


def previous_inventory(inventory: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An earlier prod inventory: without the last NAT gateway (so it is added now), with a VPC
    named RETIRED (removed now), the VPC's CIDR and the `vpcCidr` output at OLD_CIDR (changed now).
    Returns it and the added NAT gateway's URN."""
    old = copy.deepcopy(inventory)
    nat = [r for r in old["resources"] if r["type"] == "aws:ec2/natGateway:NatGateway"][-1]
    old["resources"].remove(nat)
    vpc = next(r for r in old["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    retired = copy.deepcopy(vpc)
    retired["urn"] = vpc["urn"].rsplit("::", 1)[0] + f"::{RETIRED}"
    retired["name"] = RETIRED
    old["resources"].append(retired)
    vpc["inputs"]["cidrBlock"] = OLD_CIDR
    old["outputs"]["vpcCidr"] = OLD_CIDR
    return old, nat["urn"]


def copy_plan(
    planned: Callable[[str], tuple[Path, dict[str, Any]]], stack: str, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """The plan's files of `stack` (the `planned` fixture) in a directory of the test's own, safe to change."""
    source, inventory = planned(stack)
    out_dir = tmp_path / stack
    out_dir.mkdir()
    for name in PLAN_FILES:
        shutil.copy(source / name, out_dir / name)
    return out_dir, copy.deepcopy(inventory)


def render(out_dir: Path, inventory: dict[str, Any], diff: InventoryDiff | None = None) -> tuple[Element, str]:
    """write_report, then the page as a tree and as text."""
    path = write_report(out_dir, inventory, diff)
    assert path == out_dir / "report.html"
    page = path.read_text()
    return parse(page), page


def section_of(page: Element, key: str) -> Element:
    found = page.by_id(key)
    assert found is not None and found.tag == "section", f"no <section id={key!r}>"
    return found


def body_rows(element: Element, cls: str | None = None) -> list[list[str]]:
    """The cell texts of the body rows of every table in `element` (those of class `cls`)."""
    return [row.cells() for tbody in element.find_all("tbody") for row in tbody.find_all("tr", cls)]
