"""The floor of the offline plan: `python -m tools.floor build/<stack>/inventory.json`.

What any Python Pulumi program registering the same resources must pay, with none of our
logic: import the provider SDK modules whose types appear in the inventory (as the
program's `import pulumi_aws as aws; aws.ec2.Vpc(...)` does), then replay the same
registrations (types, names, inputs, parents, providers, dependencies, protect) as bare
`CustomResource`/`ComponentResource`/`ProviderResource` objects under Pulumi's stock mock
monitor, whose mocks echo the inputs. No config loading, no components, no invokes, no
recording, no policy evaluation, no printing. `tools/bench.py` times it against the plan.

Kept free of project imports on purpose: only the standard library, `pulumi` and the SDKs.
"""

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

MASK = "[secret]"  # tools/inventory.py's mask: replayed as a secret string


class EchoMocks(pulumi.runtime.Mocks):
    """The least a mock can do: the id is the name, the state is the inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def sdk_class(type_token: str) -> tuple[str, str] | None:
    """The SDK module and class of a type: `aws:ec2/eip:Eip` -> (`pulumi_aws.ec2`, `Eip`);
    `cloudflare:index/ruleset:Ruleset` -> (`pulumi_cloudflare`, `Ruleset`);
    `pulumi:providers:aws` -> (`pulumi_aws`, `Provider`); our components (`platform:…`) -> None."""
    package, module, class_name = type_token.split(":")
    if package == "pulumi":
        return f"pulumi_{class_name}", "Provider"
    if package == "platform":
        return None
    if package == "kubernetes":
        return _kubernetes_class(module, class_name)
    module = module.split("/", 1)[0]
    return (f"pulumi_{package}" if module == "index" else f"pulumi_{package}.{module}"), class_name


def _kubernetes_class(module: str, class_name: str) -> tuple[str, str]:
    """`networking.k8s.io/v1` -> `pulumi_kubernetes.networking.v1`, `helm.sh/v4` ->
    `pulumi_kubernetes.helm.v4`; a custom resource's group (`cert-manager.io/v1`) has no
    module of its own: the program registers it as `apiextensions.CustomResource`."""
    group, version = module.split("/", 1)
    sdk_module = f"pulumi_kubernetes.{group.split('.', 1)[0]}.{version}"
    if importlib.util.find_spec(sdk_module.rsplit(".", 1)[0]) is not None:
        try:
            if hasattr(importlib.import_module(sdk_module), class_name):
                return sdk_module, class_name
        except ModuleNotFoundError:
            pass
    return "pulumi_kubernetes.apiextensions", "CustomResource"


def replay_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources ordered so that each comes after its parent, provider and dependencies."""
    by_urn = {r["urn"]: r for r in resources}
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()

    def visit(urn: str) -> None:
        if urn in done or urn not in by_urn:
            return
        done.add(urn)
        resource = by_urn[urn]
        for before in [resource["parent"], resource["provider"], *resource["dependencies"]]:
            if before:
                visit(before)
        ordered.append(resource)

    for resource in resources:
        visit(resource["urn"])
    return ordered


def _value(value: Any) -> Any:
    if value == MASK:
        return pulumi.Output.secret(MASK)
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    return value


def replay(inventory: dict[str, Any]) -> int:
    """Register every inventory resource bare; returns how many the monitor received."""
    made: dict[str, pulumi.Resource] = {}

    def program() -> None:
        for r in replay_order(inventory["resources"]):
            parent = made.get(r["parent"] or "")
            opts = pulumi.ResourceOptions(
                parent=parent if parent is not None and r["parent"].split("::")[2] != "pulumi:pulumi:Stack" else None,
                provider=made.get(r["provider"] or ""),  # type: ignore[arg-type]
                depends_on=[made[u] for u in r["dependencies"] if u in made],
                protect=r["protect"],
                ignore_changes=r["ignoreChanges"] or None,
            )
            inputs = _value(r["inputs"])
            if r["type"].startswith("pulumi:providers:"):
                made[r["urn"]] = pulumi.ProviderResource(r["type"].rsplit(":", 1)[1], r["name"], inputs, opts)
            elif r["custom"]:
                made[r["urn"]] = pulumi.CustomResource(r["type"], r["name"], inputs, opts)
            else:
                made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)

    monitor = pulumi.runtime.mocks.MockMonitor(EchoMocks())
    pulumi.runtime.set_mocks(EchoMocks(), project="floor", stack=inventory["stack"], preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(program))
    return len(monitor.resources)  # the root Stack is not stored, as it is not in the inventory


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.floor <inventory.json>", file=sys.stderr)
        return 2
    inventory = json.loads(Path(argv[0]).read_text())
    classes = sorted({c for r in inventory["resources"] if (c := sdk_class(r["type"]))})
    for module, class_name in classes:
        # The SDKs load a submodule lazily, on first attribute access: touch the class, as
        # the program's `aws.ec2.Vpc(...)` does, or the import would cost nothing.
        getattr(importlib.import_module(module), class_name)
    modules = {module for module, _ in classes}
    registered = replay(inventory)
    if registered != inventory["resourceCount"]:
        print(f"floor: registered {registered} of {inventory['resourceCount']} resources", file=sys.stderr)
        return 1
    print(f"floor: imported {len(modules)} SDK modules, registered {registered} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
