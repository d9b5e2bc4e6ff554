"""The plan's inventory: a JSON-ready record of a synth, and the diff of two of them.

The inventory is deterministic (sorted by URN, no timestamps, mock ids derived from
names), so diffing two plans shows only what the code or config changed. Secret values
are masked before anything is written.

Each resource also carries `outputs`: what the (mock) provider computed beyond the inputs
(an Elastic IP's `publicIp`, an address's `address`, a bucket's name), so a reader such as the
architecture diagram (tools/architecture.py) can join a value one resource uses (a pool's
origin address) to the resource that holds it. Outputs the resource declares secret are masked;
the diff ignores outputs (they are mock values, not what the program asks for).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.synth import Registration, Secret, SynthResult

MASK = "[secret]"
INVENTORY_VERSION = 1
# Registration fields compared besides the inputs (the type and name are in the URN).
COMPARED_FIELDS = (
    "parent",
    "provider",
    "protect",
    "dependencies",
    "propertyDependencies",
    "ignoreChanges",
    "replaceOnChanges",
    "deleteBeforeReplace",
    "retainOnDelete",
    "additionalSecretOutputs",
    "customTimeouts",
)


def mask_secrets(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def _computed_outputs(resource: Registration) -> dict[str, Any]:
    """Outputs the provider computed (not echoed inputs), secret ones masked."""
    secret = set(resource.additional_secret_outputs)
    return {
        key: MASK if key in secret else mask_secrets(value)
        for key, value in sorted(resource.outputs.items())
        if key != "id" and (key not in resource.inputs or resource.inputs[key] != value)
    }


def _resource_entry(resource: Registration) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "id": resource.id,
        "custom": resource.custom,
        "parent": resource.parent,
        "provider": resource.provider,
        "protect": resource.protect,
        "dependencies": sorted(resource.dependencies),
        "propertyDependencies": {k: sorted(v) for k, v in sorted(resource.property_dependencies.items())},
        "ignoreChanges": resource.ignore_changes,
        "replaceOnChanges": resource.replace_on_changes,
        "deleteBeforeReplace": resource.delete_before_replace,
        "retainOnDelete": resource.retain_on_delete,
        "additionalSecretOutputs": resource.additional_secret_outputs,
        "customTimeouts": resource.custom_timeouts,
        "inputs": mask_secrets(resource.inputs),
        "outputs": _computed_outputs(resource),
    }


def build_inventory(result: SynthResult) -> dict[str, Any]:
    resources = sorted(result.resources, key=lambda r: r.urn)
    return {
        "version": INVENTORY_VERSION,
        "stack": result.stack,
        "resourceCount": len(resources),
        "resources": [_resource_entry(r) for r in resources],
        "outputs": {
            k: MASK if k in result.secret_outputs else mask_secrets(v) for k, v in sorted(result.outputs.items())
        },
    }


@dataclass
class Change:
    """One changed value: `path` is `inputs.cidrBlock`, `protect`, `outputs.vpcId`…"""

    path: str
    old: Any
    new: Any


@dataclass
class InventoryDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[Change]] = field(default_factory=dict)
    outputs: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.outputs)


def read_inventory(path: Path, stack: str) -> dict[str, Any]:
    """An earlier plan's inventory.json of `stack`, for `--diff`; a clear error naming the file otherwise."""
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise ValueError(f"{path}: not an inventory (expected an object with version, stack and resources)")
    if document.get("version") != INVENTORY_VERSION:
        raise ValueError(f"{path}: inventory version {document.get('version')!r}, expected {INVENTORY_VERSION}")
    if document.get("stack") != stack:
        raise ValueError(f"{path}: is the inventory of stack {document.get('stack')!r}, not of {stack!r}")
    return document


def diff_inventories(old: dict[str, Any], new: dict[str, Any]) -> InventoryDiff:
    """What `new` adds, removes and changes relative to `old`, keyed by URN."""
    for key in ("version", "stack"):
        if old.get(key) != new.get(key):
            raise ValueError(f"cannot diff inventories of different {key}s: {old.get(key)!r} and {new.get(key)!r}")
    old_by_urn = {r["urn"]: r for r in old.get("resources", [])}
    new_by_urn = {r["urn"]: r for r in new.get("resources", [])}
    diff = InventoryDiff(
        added=sorted(new_by_urn.keys() - old_by_urn.keys()),
        removed=sorted(old_by_urn.keys() - new_by_urn.keys()),
    )
    for urn in sorted(old_by_urn.keys() & new_by_urn.keys()):
        before, after = old_by_urn[urn], new_by_urn[urn]
        changes = [Change(f, before.get(f), after.get(f)) for f in COMPARED_FIELDS if before.get(f) != after.get(f)]
        changes += _value_changes("inputs", before.get("inputs", {}), after.get("inputs", {}))
        if changes:
            diff.changed[urn] = changes
    diff.outputs = _value_changes("outputs", old.get("outputs", {}), new.get("outputs", {}))
    return diff


def _value_changes(path: str, old: Any, new: Any) -> list[Change]:
    """Leaf-level changes between two JSON values (dicts recurse; lists compare whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(old.keys() | new.keys()):
            changes += _value_changes(f"{path}.{key}", old.get(key), new.get(key))
        return changes
    if old == new:
        return []
    if MASK in (old, new):
        # A value that is secret on either side stays hidden on both: marking a leaked value
        # secret must not print the old plain value in the diff (or the report that shows it).
        return [Change(path, MASK, MASK)]
    return [Change(path, old, new)]
