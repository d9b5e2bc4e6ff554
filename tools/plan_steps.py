"""The offline plan's steps (tools/plan.py runs them in order): each takes the `PlanContext`,
writes its files under `context.out_dir` and prints to `context.console`."""

import json
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
from tools.diagram import draw
from tools.inventory import InventoryDiff
from tools.quotas import quotas_report
from tools.report import write_report
from tools.report_sections import protected_resources, quota_default, resource_counts
from tools.synth import SynthResult


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
    table = Table(title=f"{context.stack}: resources by provider and type")
    table.add_column("provider")
    table.add_column("type")
    table.add_column("count", justify="right")
    for provider, type_token, count in resource_counts(context.inventory):
        table.add_row(provider, type_token, str(count))
    table.add_section()
    table.add_row("", "total (providers included)", str(len(context.inventory["resources"])))
    context.console.print(table)

    protected = Table(title="protected resources")
    protected.add_column("type")
    protected.add_column("name")
    for type_token, name in protected_resources(context.inventory):
        protected.add_row(type_token, name)
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
        default = quota_default(need)
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


def gather_report(context: PlanContext) -> None:
    """The reviewer's page, report.html, from the files the steps before wrote (and the diff)."""
    context.report = write_report(context.out_dir, context.inventory, context.diff)
    context.written.append(context.report)
