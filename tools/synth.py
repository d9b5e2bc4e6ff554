"""Run the Pulumi program for one stack under Pulumi's mock monitor, offline.

`synth("prod")` reads `Pulumi.prod.yaml` (every namespace, `aws:region` included), runs
`__main__.py` with Pulumi's mocks, and returns a `SynthResult`: every registration in
full (type, name, URN, parent, provider, protect, dependencies, ignoreChanges, inputs,
mock outputs) and the resolved stack exports. Tests and `tools.plan` both use it.
`synth_component(build)` does the same for one component built on its own, with the
explicit providers a stack would give it.

The stock MockMonitor hands the mocks only type, name and inputs. `RecordingMonitor`
wraps its `RegisterResource` to keep the rest of the request as well.
"""

import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.mock_outputs import PlatformMocks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "multicloud-platform"


@dataclass(frozen=True)
class Secret:
    """An input value the program marked secret. Inventories print it masked."""

    value: Any


@dataclass
class Registration:
    """One RegisterResource request, as the engine would receive it."""

    type: str
    name: str
    urn: str
    custom: bool
    parent: str | None
    provider: str | None
    protect: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    additional_secret_outputs: list[str]
    custom_timeouts: dict[str, str]
    inputs: dict[str, Any]
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def package(self) -> str:
        """`aws`, `gcp`, `pulumi` or `platform` (our components)."""
        return self.type.split(":", 1)[0]


@dataclass
class SynthResult:
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    invokes: list[tuple[str, str]] = field(default_factory=list)
    """(token, provider reference) of every provider function the program called."""

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Registration:
        matches = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {type_token} named {name!r}, found {len(matches)}")
        return matches[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]


class SynthError(Exception):
    """The program failed under mocks; `result` holds what registered before it did."""

    def __init__(self, cause: BaseException, result: SynthResult):
        super().__init__(str(cause))
        self.cause = cause
        self.result = result


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that records each RegisterResource request in full."""

    def __init__(self, mocks: PlatformMocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.platform_mocks = mocks

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them, so inventories line up with real state.

        The stock mock prefixes top-level types with `pulumi:pulumi:Stack$` and keeps only
        the direct parent's type; the engine omits the root stack and keeps the whole
        chain (`platform:aws:AwsNetwork$platform:aws:VpcFlowLogs$aws:kms/key:Key`).
        """
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([settings.get_stack(), settings.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = _unwrap_secrets(rpc.deserialize_properties(request.object))
        registration = Registration(
            type=request.type,
            name=request.name,
            urn=response.urn,
            custom=request.custom,
            parent=request.parent or None,
            provider=_provider_urn(request.provider),
            protect=bool(request.protect),
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.retainOnDelete),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            custom_timeouts={
                k: v
                for k, v in (
                    ("create", request.customTimeouts.create),
                    ("update", request.customTimeouts.update),
                    ("delete", request.customTimeouts.delete),
                )
                if v
            },
            inputs=inputs,
            id=response.id or None,
            outputs=_unwrap_secrets(self.resources[response.urn].state),
        )
        self.registrations.append(registration)
        if request.type.startswith("pulumi:providers:"):
            self.platform_mocks.provider_inputs[f"{response.urn}::{response.id}"] = inputs
        return response


def read_stack_config(stack: str, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The `config:` map of `Pulumi.<stack>.yaml`, keys exactly as written."""
    path = project_root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name} in {project_root}")
    document = yaml.safe_load(path.read_text()) or {}
    return dict(document.get("config") or {})


def synth(stack: str, config: dict[str, Any] | None = None, project_root: Path = PROJECT_ROOT) -> SynthResult:
    """Run the program for `stack` under mocks. `config` replaces the stack file's config.

    Raises SynthError (with the partial result) if the program fails.
    """
    stack_config = read_stack_config(stack, project_root) if config is None else config
    program = str(project_root / "__main__.py")

    def run_program() -> None:
        runpy.run_path(program, run_name="__main__")

    return _run(stack, stack_config, run_program)


@dataclass(frozen=True)
class ComponentProviders:
    """The explicit providers `synth_component` makes, as the stacks would."""

    aws: pulumi.ProviderResource
    gcp: pulumi.ProviderResource
    cloudflare: pulumi.ProviderResource
    random: pulumi.ProviderResource
    kubernetes: pulumi.ProviderResource
    """A cluster's provider (a placeholder kubeconfig: under mocks nothing connects)."""

    @property
    def opts(self) -> pulumi.ResourceOptions:
        """Options that hand every provider to a component (`providers=`)."""
        return pulumi.ResourceOptions(providers=[self.aws, self.gcp, self.cloudflare, self.random, self.kubernetes])


def synth_component(
    build: Callable[[ComponentProviders], Mapping[str, Any] | None],
    *,
    stack: str = "test",
    aws_region: str = "ap-northeast-2",
    gcp_project: str = "heal7-test",
    gcp_region: str = "asia-northeast3",
) -> SynthResult:
    """Synthesize one component on its own: same recording monitor, same mocks as `synth`.

    `build(providers)` constructs the component with `opts=providers.opts` (or a subset);
    whatever mapping of outputs it returns is resolved into `SynthResult.outputs`, as stack
    exports would be. No stack file is read, so a test states exactly the args it means.
    Raises SynthError (with the partial result) if the component fails.
    """
    import pulumi_aws as aws
    import pulumi_cloudflare as cloudflare
    import pulumi_gcp as gcp
    import pulumi_kubernetes as kubernetes
    import pulumi_random as random

    def run_component() -> None:
        providers = ComponentProviders(
            aws=aws.Provider("test-aws", region=aws_region),
            gcp=gcp.Provider("test-gcp", project=gcp_project, region=gcp_region),
            cloudflare=cloudflare.Provider("test-cloudflare"),
            random=random.Provider("test-random"),
            kubernetes=kubernetes.Provider("test-kubernetes", kubeconfig="{}"),
        )
        for output_name, value in (build(providers) or {}).items():
            pulumi.export(output_name, value)

    return _run(stack, {}, run_component)


def _run(stack: str, stack_config: dict[str, Any], program: Callable[[], None]) -> SynthResult:
    """Run `program` under a fresh recording monitor and return what it registered."""
    engine_config, secret_keys = _engine_config(stack_config)
    settings.ROOT.set(None)  # a fresh root Stack resource for every run
    mocks = PlatformMocks(stack)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT_NAME, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(engine_config, secret_keys)

    failure: BaseException | None = None
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as error:  # reported through SynthError with the partial record
        failure = error

    outputs, secret_outputs = ({}, []) if failure else _resolve_exports()
    result = SynthResult(
        stack=stack,
        resources=monitor.registrations,
        outputs=outputs,
        secret_outputs=secret_outputs,
        invokes=mocks.invokes,
    )
    if failure is not None:
        raise SynthError(failure, result) from failure
    return result


def _engine_config(stack_config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine passes it: strings, structured values JSON-encoded.

    `secure:` values cannot be decrypted offline; they arrive as a marked secret.
    """
    engine_config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in stack_config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(key)
            engine_config[key] = "[secret: encrypted in the stack file, not available offline]"
        elif isinstance(value, str):
            engine_config[key] = value
        else:
            engine_config[key] = json.dumps(value)
    return engine_config, secret_keys


def _resolve_exports() -> tuple[dict[str, Any], list[str]]:
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    values: dict[str, Any] = {}
    secret: list[str] = []
    for output_name, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[output_name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret.append(output_name)
    return values, secret


def _provider_urn(reference: str) -> str | None:
    """Provider references are `<urn>::<id>`; keep the URN."""
    return reference.rsplit("::", 1)[0] if reference else None


def _unwrap_secrets(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return Secret(_unwrap_secrets(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value
