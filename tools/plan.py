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

The steps are in tools/plan_steps.py; a later one plugs in by appending a function that takes
a `PlanContext` to `PLAN_STEPS`.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tools.diagram import GraphvizMissing
from tools.inventory import InventoryDiff, build_inventory, diff_inventories, read_inventory
from tools.plan_steps import (
    PlanContext,
    check_capacity,
    check_policies,
    check_quotas,
    draw_architecture,
    gather_report,
    print_backups,
    print_summary,
    render_manifests,
    write_inventory,
)
from tools.synth import PROJECT_ROOT, SynthError, SynthResult, synth

PLAN_STEPS: list[Callable[[PlanContext], None]] = [
    write_inventory,
    print_summary,
    print_backups,
    check_quotas,
    check_capacity,
    check_policies,
    render_manifests,
    draw_architecture,
    gather_report,  # last: it reads what the others wrote
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
    previous = read_inventory(diff_against, stack) if diff_against else None
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
