"""Offline plan: `python -m tools.plan <stack> [--diff OLD_INVENTORY]` (or `make plan STACK=…`).

Runs the program under mocks (tools/synth.py), then runs each step in `PLAN_STEPS`:
write `build/<stack>/inventory.json` (secrets masked) and print a summary of resources
per provider and type, the protected resources, the stack's exports and its backups (RDS's
retention and DR-region copy, Redis's snapshots, the backup bucket's lifecycle, the nightly dump
and restore drill: tools/backups_report.py). With `--diff`,
it also lists what was added, removed or changed against an earlier inventory.

It prints the quotas the first `pulumi up` needs (tools/quotas.py: Elastic IPs, NAT
gateways, vCPUs per EC2 quota bucket, GCP CPUs and GPUs, static addresses), flags those
above the provider's default and writes them to `build/<stack>/quotas.json`.

It prints the capacity plan (tools/capacity.py) per cluster: each workload's share of the
request target against what its HPA maximum serves, and each node pool's allocatable at its
maximum size against the pods at HPA max; writes `build/<stack>/capacity.json`, and fails
the plan when a share cannot be served or the pods do not fit.

It then runs the policy pack in-process (policy/runner.py) with the stack's policy config
(`policy/config/<stack>.json`, the file `pulumi preview --policy-pack-config` takes),
prints the violations, writes `build/<stack>/policy-report.json`, and exits 1 when any
mandatory violation exists, as `pulumi preview --policy-pack policy` would fail (or a capacity
check fails).

It draws the platform from the inventory (tools/architecture.py, tools/diagram.py):
`build/<stack>/architecture.svg`, `.png` and the DOT source `.dot`; and it gathers a reviewer's
page, `build/<stack>/report.html` (tools/report.py): the diagram, the tables above, the policy
findings and, with `--diff`, the changes. It ends by printing where both are.

It writes every Kubernetes object the program registers to
`build/<stack>/manifests/<cluster>/<namespace or _cluster>/<kind>-<name>.yaml`
(tools/manifests.py) and prints, per cluster, its namespaces, Helm charts and objects by kind.

Later steps plug in by appending a function that takes a `PlanContext` to `PLAN_STEPS`.
"""

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from policy.runner import config_file_for, evaluate, load_policy_config
from tools import manifests
from tools.architecture import build_architecture
from tools.backups_report import backups_table
from tools.capacity import capacity_report, stack_config
from tools.capacity_report import capacity_tables
from tools.diagram import GraphvizMissing, draw
from tools.inventory import InventoryDiff, build_inventory, diff_inventories
from tools.quotas import quotas_report
from tools.synth import PROJECT_ROOT, SynthError, SynthResult, synth


@dataclass
class PlanContext:
    """What every plan step sees. Steps add files under `out_dir` and print to `console`."""

    stack: str
    out_dir: Path
    console: Console
    result: SynthResult
    inventory: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    failed: bool = False
    """Set by a step that must fail the plan (a mandatory policy violation, a capacity check)."""
    failures: list[str] = field(default_factory=list)
    """What failed it, one phrase per step (`mandatory policy violations`)."""
    diff: InventoryDiff | None = None
    """The changes against the previous inventory, when the plan was given one (`--diff`)."""
    diagram: Path | None = None
    report: Path | None = None


def write_inventory(context: PlanContext) -> None:
    path = context.out_dir / "inventory.json"
    path.write_text(json.dumps(context.inventory, indent=2, sort_keys=True) + "\n")
    context.written.append(path)


def print_summary(context: PlanContext) -> None:
    resources = context.inventory["resources"]
    names_by_urn = {r["urn"]: r["name"] for r in resources}
    counts = Counter(
        (names_by_urn.get(r["provider"], "(component)" if not r["custom"] else "(default)"), r["type"])
        for r in resources
        if not r["type"].startswith("pulumi:providers:")
    )
    table = Table(title=f"{context.stack}: resources by provider and type")
    table.add_column("provider")
    table.add_column("type")
    table.add_column("count", justify="right")
    for (provider, type_token), count in sorted(counts.items()):
        table.add_row(provider, type_token, str(count))
    table.add_section()
    table.add_row("", "total (providers included)", str(len(resources)))
    context.console.print(table)

    protected = Table(title="protected resources")
    protected.add_column("type")
    protected.add_column("name")
    for r in resources:
        if r["protect"]:
            protected.add_row(r["type"], r["name"])
    context.console.print(protected if protected.row_count else "[yellow]no protected resources[/]")

    exports = Table(title="stack exports")
    exports.add_column("output")
    exports.add_column("value", overflow="fold")
    for output_name, value in context.inventory["outputs"].items():
        # Text, not markup: an ARN's ":secret:" would otherwise print as an emoji.
        exports.add_row(output_name, Text(value if isinstance(value, str) else json.dumps(value)))
    context.console.print(exports)


def check_policies(context: PlanContext) -> None:
    config_path = config_file_for(context.stack)
    config_name = config_path.name if config_path.exists() else None
    config = load_policy_config(config_path) if config_name else {}
    report = evaluate(context.result, config, config_file=config_name)
    path = context.out_dir / "policy-report.json"
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    context.written.append(path)

    if report.violations:
        table = Table(title=f"policy violations ({config_name or 'no policy config file'})")
        table.add_column("level")
        table.add_column("policy")
        table.add_column("message", overflow="fold")
        for violation in sorted(report.violations, key=lambda v: (v.enforcement, v.policy)):
            colour = "red" if violation.enforcement == "mandatory" else "yellow"
            table.add_row(Text(violation.enforcement, style=colour), violation.policy, Text(violation.message))
        context.console.print(table)
    for note in report.not_evaluated:
        context.console.print(Text(f"not evaluated: {note['policy']} on {note['urn']}: {note['reason']}"))
    context.console.print(
        f"policy pack: {report.policies} policies, {len(report.mandatory)} mandatory and "
        f"{len(report.advisory)} advisory violation(s)"
    )
    if report.mandatory:
        context.failed = True
        context.failures.append("mandatory policy violations")


PER_ACCOUNT = {"aws": "set per account", "gcp": "set per project"}


def check_quotas(context: PlanContext) -> None:
    """Quotas the first `pulumi up` needs (tools/quotas.py), flagged where above the provider's default."""
    report = quotas_report(context.inventory)
    path = context.out_dir / "quotas.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    context.written.append(path)
    table = Table(title=f"{context.stack}: quotas the first pulumi up needs (at every node group's and pool's maximum)")
    for column in ("cloud", "quota", "scope", "needed", "default"):
        table.add_column(column, justify="right" if column in ("needed", "default") else "left", overflow="fold")
    for need in report["quotas"]:
        default = str(need["default"]) if need["default"] is not None else PER_ACCOUNT[need["cloud"]]
        style = "red" if need["aboveDefault"] else ""
        table.add_row(
            need["cloud"], Text(need["quota"]), need["scope"], Text(str(need["needed"]), style=style), default
        )
    context.console.print(table)
    for above in report["aboveDefault"]:
        context.console.print(Text(f"raise before the first pulumi up: {above} (above the default)", style="red"))
    for quota in report["toCheck"]:
        context.console.print(Text(f"check against the account's or project's quota: {quota} needed", style="yellow"))


def check_capacity(context: PlanContext) -> None:
    """Each workload's share at its HPA max, and the pods at HPA max on the pools at their max (tools/capacity.py)."""
    try:
        config = stack_config(context.stack)
    except FileNotFoundError:
        # A component synthesized on its own (tools.synth.synth_component) has no stack file,
        # hence no target or workloads; the CLI refuses a stack without one before this.
        context.console.print(Text(f"capacity plan: no stack file Pulumi.{context.stack}.yaml, nothing to check"))
        return
    report = capacity_report(config, context.result)
    path = context.out_dir / "capacity.json"
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    context.written.append(path)
    for table in capacity_tables(report):
        context.console.print(table)
    for problem in report.problems:
        context.console.print(Text(problem, style="red"))
    if report.problems:
        context.failed = True
        context.failures.append(f"{len(report.problems)} capacity problem(s)")


def render_manifests(context: PlanContext) -> None:
    """Every Kubernetes object as the provider would apply it, one file each, and a table per cluster."""
    clusters = manifests.collect(context.result)
    context.written += manifests.write(clusters, context.out_dir / "manifests")
    context.written += manifests.write_charts(clusters, context.out_dir / manifests.CHARTS_DIR)
    if not clusters:
        context.console.print("no Kubernetes objects or Helm charts registered: no manifests written")
    for cluster in clusters.values():
        table = Table(title=f"{context.stack}: Kubernetes on {cluster.cluster} (Kubernetes {cluster.version})")
        table.add_column("what")
        table.add_column("name", overflow="fold")
        table.add_column("version / count", justify="right")
        created = set(cluster.created_namespaces)
        for namespace in cluster.namespaces:
            table.add_row("namespace", namespace, "" if namespace in created else "existing")
        if cluster.charts:
            table.add_section()
        for chart in cluster.charts:
            source = f" ({chart.repository})" if chart.repository else ""
            table.add_row(
                "chart", Text(f"{chart.chart}{source} in {chart.namespace or 'default'}"), chart.version or ""
            )
        table.add_section()
        for kind, count in sorted(cluster.kinds.items()):
            table.add_row("kind", kind, str(count))
        table.add_section()
        table.add_row("", "objects", str(len(cluster.objects)))
        context.console.print(table)


def draw_architecture(context: PlanContext) -> None:
    """The platform drawn from the inventory: architecture.svg, .png and the DOT source."""
    architecture = build_architecture(context.inventory)
    dot_path = context.out_dir / "architecture.dot"
    dot_path.write_text(draw(architecture, context.out_dir))
    context.diagram = context.out_dir / "architecture.svg"
    context.written += [context.diagram, context.out_dir / "architecture.png", dot_path]
    context.console.print(
        f"architecture: {len(architecture.boxes)} boxes, {len(architecture.nodes)} nodes, "
        f"{len(architecture.edges)} edges"
    )
    for note in architecture.unmatched:
        context.console.print(Text(f"not drawn: {note}", style="yellow"))


def print_backups(context: PlanContext) -> None:
    """RDS's backup retention and DR-region copy, Redis's snapshots, the bucket's lifecycle, the dump jobs."""
    context.console.print(backups_table(context.stack, context.inventory))


PLAN_STEPS: list[Callable[[PlanContext], None]] = [
    write_inventory,
    print_summary,
    print_backups,
    check_quotas,
    check_capacity,
    check_policies,
    render_manifests,
    draw_architecture,
]


def print_diff(diff: InventoryDiff, console: Console) -> None:
    if diff.empty:
        console.print("[green]no changes against the previous inventory[/]")
        return
    table = Table(title="changes against the previous inventory")
    table.add_column("", width=1)
    table.add_column("resource / output", overflow="fold")
    table.add_column("change", overflow="fold")
    for urn in diff.added:
        table.add_row("[green]+[/]", urn, "added")
    for urn in diff.removed:
        table.add_row("[red]-[/]", urn, "removed")
    for urn, changes in diff.changed.items():
        for change in changes:
            table.add_row("[yellow]~[/]", urn, f"{change.path}: {change.old!r} -> {change.new!r}")
    for change in diff.outputs:
        table.add_row("[yellow]~[/]", "stack output", f"{change.path}: {change.old!r} -> {change.new!r}")
    console.print(table)
    console.print(
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed, "
        f"{len(diff.outputs)} output(s) changed"
    )


def run_plan(
    stack: str,
    out_root: Path,
    diff_against: Path | None = None,
    console: Console | None = None,
    result: SynthResult | None = None,
) -> PlanContext:
    """Plan `stack`; `result` is a synth of it already made (the tests' cached one), else it is synthesized."""
    console = console or Console()
    # Read the old inventory first: it may be the very file this run overwrites.
    previous = json.loads(diff_against.read_text()) if diff_against else None
    result = result or synth(stack)
    context = PlanContext(
        stack=stack, out_dir=out_root / stack, console=console, result=result, inventory=build_inventory(result)
    )
    if previous is not None:
        context.diff = diff_inventories(previous, context.inventory)
    context.out_dir.mkdir(parents=True, exist_ok=True)
    for step in PLAN_STEPS:
        step(context)
    if context.diff is not None:
        print_diff(context.diff, console)
    grouped = {"Kubernetes manifests": context.out_dir / "manifests", "chart values": context.out_dir / "charts"}
    in_group = {label: [p for p in context.written if directory in p.parents] for label, directory in grouped.items()}
    for path in context.written:
        if not any(path in paths for paths in in_group.values()):
            console.print(f"wrote {path}")
    for label, paths in in_group.items():
        if paths:
            console.print(f"wrote {len(paths)} {label} under {grouped[label]}")
    if context.diagram:
        console.print(f"[bold]diagram:[/] {context.diagram} (and {context.diagram.with_suffix('.png').name})")
    if context.report:
        console.print(f"[bold]report:[/] {context.report}")
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description="Offline plan of one stack.")
    parser.add_argument("stack", help="stack name: dev, staging or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build", help="output root (default: build/)")
    parser.add_argument("--diff", type=Path, metavar="OLD_INVENTORY", help="inventory.json of an earlier plan")
    args = parser.parse_args(argv)
    console = Console()
    if args.diff and not args.diff.is_file():
        console.print(f"[red]--diff: no such file {args.diff}[/]")
        return 2
    try:
        context = run_plan(args.stack, args.out, args.diff, console)
    # No stack file, an inventory of another stack, bad policy config, no Graphviz.
    except (FileNotFoundError, ValueError, GraphvizMissing) as error:
        console.print(f"[red]{error}[/]")
        return 2
    except SynthError as error:
        console.print(f"[red]plan failed for stack {args.stack}:[/]")
        console.print(str(error), markup=False, highlight=False)
        return 1
    if context.failed:
        console.print(f"[red]plan failed for stack {args.stack}: {', '.join(context.failures)}[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
