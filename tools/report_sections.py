"""The rows of each section of build/<stack>/report.html, from the plan's own files.

Each function turns one plan file (or the inventory) into plain rows for the template
(tools/templates/report.html.j2); tools/report.py reads the files and renders. Nothing here
formats HTML: the template does, with autoescape on.
"""

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy.rules import ALL_POLICIES
from tools import manifests
from tools.inventory import InventoryDiff

FIX_MARKER = " Fix: "
# What a quota without one well-known default is set by.
PER_ACCOUNT = {"aws": "set per account", "gcp": "set per project"}


def resource_counts(inventory: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(provider name, type, count), sorted (the plan's summary table prints the same). A resource
    without an explicit provider is `(default)`, a component `(component)`; providers themselves
    are not counted in the rows (only in the total)."""
    resources = inventory["resources"]
    names_by_urn = {r["urn"]: r["name"] for r in resources}
    counts = Counter(
        (names_by_urn.get(r["provider"], "(component)" if not r["custom"] else "(default)"), r["type"])
        for r in resources
        if not r["type"].startswith("pulumi:providers:")
    )
    return [(provider, type_token, count) for (provider, type_token), count in sorted(counts.items())]


def protected_resources(inventory: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(type, name) of every resource with `protect`, sorted so one type's resources stand together."""
    return sorted((r["type"], r["name"]) for r in inventory["resources"] if r["protect"])


@dataclass(frozen=True)
class Finding:
    enforcement: str
    policy: str
    severity: str
    framework: str
    resource_type: str
    resource_name: str
    urn: str
    finding: str
    remediation: str | None
    """None when neither the message nor the pack gives one (shown as such, never hidden)."""


def _pack_remediations() -> dict[str, str]:
    return {p.name: p.remediation_steps for p in ALL_POLICIES if p.remediation_steps}


def findings(policy_report: Mapping[str, Any]) -> list[Finding]:
    """Every violation, mandatory first, then by policy and resource.

    Every control words its message `<name> (<type>): <problem>. Fix: <remediation>`
    (policy/rules/framework.py violation_message); the finding is the problem without the
    resource prefix (the resource has its own column). A message without " Fix: " (a policy
    written another way) keeps its whole text as the finding and takes the remediation the
    pack declares for that policy, if any.
    """
    remediations: dict[str, str] | None = None
    rows = []
    for violation in policy_report["violations"]:
        message: str = violation["message"]
        finding, marker, remediation = message.rpartition(FIX_MARKER)
        if not marker:
            remediations = remediations if remediations is not None else _pack_remediations()
            finding, remediation = message, remediations.get(violation["policy"])
        prefix = f"{violation['resourceName']} ({violation['resourceType']}): "
        rows.append(
            Finding(
                enforcement=violation["enforcement"],
                policy=violation["policy"],
                severity=violation["severity"],
                framework=violation["framework"],
                resource_type=violation["resourceType"],
                resource_name=violation["resourceName"],
                urn=violation["urn"],
                finding=finding.removeprefix(prefix),
                remediation=remediation or None,
            )
        )
    # Mandatory first: it blocks `pulumi up` (the runner records remediate as mandatory, so there are two levels).
    return sorted(rows, key=lambda f: (f.enforcement != "mandatory", f.policy, f.urn))


def quota_default(need: Mapping[str, Any]) -> str:
    """A quota's default as the plan and the report show it: the number, or who sets it."""
    return str(need["default"]) if need["default"] is not None else PER_ACCOUNT[need["cloud"]]


def quota_rows(quotas: Mapping[str, Any]) -> list[dict[str, Any]]:
    """quotas.json's lines as they are, with the default spelled out where it is set per account or project."""
    return [
        {
            **need,
            "defaultText": quota_default(need),
        }
        for need in quotas["quotas"]
    ]


def _cores(cpu_m: float) -> str:
    return f"{cpu_m / 1000:.2f}"


def _gib(memory_mib: float) -> str:
    return f"{memory_mib / 1024:.1f}"


def _resources(requests: Mapping[str, Any]) -> str:
    """CPU in cores, memory in GiB, GPUs: the units of the plan's pool table (tools/capacity_report.py)."""
    return f"{_cores(requests['cpu_m'])}, {_gib(requests['memory_mib'])}, {requests['gpus']}"


def pool_rows(capacity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each pool at its maximum size, in the plan's own units."""
    rows = []
    for pool in capacity["pools"]:
        node = pool["nodeAllocatable"]
        daemonsets = pool["daemonSetsPerNode"]
        daemonset_cpu = sum(d["cpu_m"] for d in daemonsets.values())
        daemonset_memory = sum(d["memory_mib"] for d in daemonsets.values())
        pods = sum(p["count"] for p in pool["podsAtMax"].values())
        rows.append(
            {
                "cluster": pool["cluster"],
                "pool": pool["pool"],
                "nodes": f"{pool['maxNodes']} x {pool['machineType']} ({pool['zones']} zones)",
                "perNode": f"{_resources(node)}, {node['pods']}",
                "daemonSets": f"{_cores(daemonset_cpu)}, {_gib(daemonset_memory)} ({len(daemonsets)} pods)",
                "allocatableAtMax": _resources(pool["allocatableAtMax"]),
                "freeForPodsAtMax": _resources(pool["freeForPodsAtMax"]),
                "requestedAtMax": f"{_resources(pool['requestedAtMax'])} ({pods} pods)",
                "busiestZone": f"{pool['busiestZoneNodesNeeded']} / {pool['busiestZoneNodes']}",
                "fits": pool["fits"],
            }
        )
    return rows


@dataclass(frozen=True)
class ChartRow:
    chart: str
    repository: str | None
    version: str | None
    namespace: str | None
    release: str | None


def chart_rows(inventory: Mapping[str, Any]) -> list[tuple[str, str, list[ChartRow]]]:
    """(cluster, Kubernetes version, its Helm charts) per cluster: tools/manifests.py collect."""
    return [
        (
            cluster.cluster,
            cluster.version,
            [ChartRow(c.chart, c.repository, c.version, c.namespace, c.release) for c in cluster.charts],
        )
        for cluster in manifests.collect(inventory).values()
    ]


def as_json(value: Any) -> str:
    """A changed value as compact, key-sorted JSON (the template escapes it)."""
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def diff_summary(diff: InventoryDiff) -> dict[str, int]:
    return {
        "added": len(diff.added),
        "removed": len(diff.removed),
        "changed": len(diff.changed),
        "outputs": len(diff.outputs),
    }
