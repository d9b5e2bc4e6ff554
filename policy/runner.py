"""Evaluate the policy pack in-process over a synth record, the way the engine would.

`evaluate(result, config)` hands every registration to every resource policy as
`ResourceValidationArgs` (the resource's inputs, camelCase, behind the SDK's
unknown-checking proxy, with `PolicyResourceOptions` carrying protect and parent), then
the whole graph to every stack policy as `StackValidationArgs` (outputs, parents,
dependencies and property dependencies resolved to `PolicyResource`s).

Policy config follows `--policy-pack-config`: a JSON object whose keys are policy names
(or "all") and whose values are an enforcement level or an object with
`enforcementLevel` and the policy's settings, validated against its `PolicyConfigSchema`
and handed over as the engine does (through a protobuf Struct, so numbers are floats).
The runner is stricter than the engine: it refuses unknown policy names, unknown settings
and an "all" that is not a plain level, so a typo fails the plan instead of doing nothing.
As in the engine, an unknown value during preview makes a policy report a "not evaluated"
note, never a violation; a disabled policy does not run; remediate counts as mandatory.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy.rules import ALL_POLICIES
from policy.rules.framework import ResourceControl
from tools.synth import Registration, Secret, SynthResult

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class PolicyConfigError(ValueError):
    """A policy config file names an unknown policy, level or setting."""


@dataclass(frozen=True)
class PolicySettings:
    enforcement: EnforcementLevel
    config: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    policy: str
    family: str
    severity: str
    enforcement: str
    framework: str
    resource_type: str
    resource_name: str
    urn: str
    message: str


@dataclass
class PolicyReport:
    stack: str
    config_file: str | None
    policies: int
    violations: list[Violation] = field(default_factory=list)
    not_evaluated: list[dict[str, str]] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == EnforcementLevel.MANDATORY.value]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == EnforcementLevel.ADVISORY.value]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "configFile": self.config_file,
            "policies": self.policies,
            "mandatory": len(self.mandatory),
            "advisory": len(self.advisory),
            "violations": [_camel_keys(asdict(v)) for v in self.violations],
            "notEvaluated": self.not_evaluated,
        }


def _camel_keys(record: dict[str, Any]) -> dict[str, Any]:
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): value for key, value in record.items()}


# -- policy config -------------------------------------------------------------------


def config_file_for(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


def load_policy_config(path: Path, policies: Sequence[Policy] = ALL_POLICIES) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"{path.name}: not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path.name}: expected an object of policy names, got {type(document).__name__}")
    resolve_settings(document, policies, source=path.name)
    return document


def resolve_settings(
    document: Mapping[str, Any], policies: Sequence[Policy] = ALL_POLICIES, source: str = "policy config"
) -> dict[str, PolicySettings]:
    """Each policy's enforcement level and settings after the config document, as the engine computes them."""
    by_name = {p.name: p for p in policies}
    levels = {level.value for level in EnforcementLevel}
    for key, value in document.items():
        if key != "all" and key not in by_name:
            raise PolicyConfigError(f"{source}: {key}: no such policy in the pack")
        level = value if isinstance(value, str) else (value or {}).get("enforcementLevel")
        if level is not None and level not in levels:
            raise PolicyConfigError(
                f"{source}: {key}.enforcementLevel: expected one of {sorted(levels)}, got {level!r}"
            )
    if not isinstance(document.get("all", ""), str):
        raise PolicyConfigError(f"{source}: all: expected an enforcement level for every policy")
    resolved = {}
    for policy in policies:
        entry = document.get(policy.name)
        if isinstance(entry, dict):
            level = entry.get("enforcementLevel")
            settings = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        else:
            level, settings = entry, {}
        _validate_settings(policy, settings, source)
        # The policy's own entry wins over "all", which wins over the policy's default.
        level = level or document.get("all") or (policy.enforcement_level or EnforcementLevel.ADVISORY).value
        resolved[policy.name] = PolicySettings(EnforcementLevel(level), _as_engine_sends(settings))
    return resolved


def _as_engine_sends(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings after the engine's protobuf Struct: every number becomes a float."""
    struct = struct_pb2.Struct()
    struct.update(settings)
    return json_format.MessageToDict(struct)


def _validate_settings(policy: Policy, settings: dict[str, Any], source: str) -> None:
    if not settings:
        return
    import jsonschema  # only a config file with settings needs it (~0.1 s to import)

    properties = policy.config_schema.properties if policy.config_schema else {}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    try:
        jsonschema.validate(settings, schema)
    except jsonschema.ValidationError as error:
        where = ".".join(str(p) for p in error.absolute_path) or "(settings)"
        raise PolicyConfigError(f"{source}: {policy.name}.{where}: {error.message}") from error


# -- engine-shaped arguments ---------------------------------------------------------


def _plain(value: Any) -> Any:
    """Secret-wrapped values unwrapped, as the SDK deserializes them for policies."""
    if isinstance(value, Secret):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _seconds(duration: str | None) -> float:
    """Go duration strings ("1h30m", "45s") as seconds, like the engine's customTimeouts."""
    units = {"h": 3600, "m": 60, "s": 1}
    return float(sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms])", duration or "")))


def resource_options(registration: Registration) -> PolicyResourceOptions:
    timeouts = registration.custom_timeouts
    return PolicyResourceOptions(
        protect=registration.protect,
        ignore_changes=list(registration.ignore_changes),
        delete_before_replace=registration.delete_before_replace or None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(
            _seconds(timeouts.get("create")), _seconds(timeouts.get("update")), _seconds(timeouts.get("delete"))
        ),
        additional_secret_outputs=list(registration.additional_secret_outputs),
        parent=registration.parent,
    )


def _providers(result: SynthResult) -> dict[str, PolicyProviderResource]:
    return {
        r.urn: PolicyProviderResource(r.type, unknown_checking_proxy(_plain(r.inputs)), r.urn, r.name)
        for r in result.resources
        if r.type.startswith("pulumi:providers:")
    }


def stack_resources(result: SynthResult, providers: Mapping[str, PolicyProviderResource]) -> list[PolicyResource]:
    resources = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(_plain(r.outputs)),
            r.urn,
            r.name,
            resource_options(r),
            providers.get(r.provider or ""),
            None,
            [],
            {},
        )
        for r in result.resources
    }
    for registration in result.resources:
        resource = resources[registration.urn]
        resource.parent = resources.get(registration.parent or "")
        resource.dependencies = [resources[u] for u in registration.dependencies if u in resources]
        resource.property_dependencies = {
            key: [resources[u] for u in urns if u in resources]
            for key, urns in registration.property_dependencies.items()
        }
    return list(resources.values())


# -- evaluation ----------------------------------------------------------------------


def evaluate(
    result: SynthResult,
    config: Mapping[str, Any] | None = None,
    policies: Sequence[Policy] = ALL_POLICIES,
    config_file: str | None = None,
) -> PolicyReport:
    settings = resolve_settings(config or {}, policies, source=config_file or "policy config")
    report = PolicyReport(stack=result.stack, config_file=config_file, policies=len(policies))
    providers = _providers(result)
    resources = stack_resources(result, providers)
    names = {r.urn: (r.resource_type, r.name) for r in resources}
    # The engine does not analyze provider resources. Inputs are unwrapped once per resource;
    # each policy still gets its own proxy (a copy), as each engine Analyze call deserializes anew.
    analyzed = [(r, _plain(r.inputs)) for r in result.resources if not r.type.startswith("pulumi:providers:")]
    for policy in policies:
        chosen = settings[policy.name]
        if chosen.enforcement == EnforcementLevel.DISABLED:
            continue
        level = EnforcementLevel.MANDATORY if chosen.enforcement == EnforcementLevel.REMEDIATE else chosen.enforcement
        if isinstance(policy, ResourceValidationPolicy):
            # A control returns at once for a type it does not inspect; skip building its arguments.
            types = policy.resource_types if isinstance(policy, ResourceControl) else None
            for registration, inputs in analyzed:
                if types is not None and registration.type not in types:
                    continue
                args = ResourceValidationArgs(
                    registration.type,
                    unknown_checking_proxy(inputs),
                    registration.urn,
                    registration.name,
                    resource_options(registration),
                    providers.get(registration.provider or ""),
                    chosen.config,
                )
                _run(report, policy, level, args, names, registration.urn)
        elif isinstance(policy, StackValidationPolicy):
            _run(report, policy, level, StackValidationArgs(resources, chosen.config), names, None)
    return report


def _run(
    report: PolicyReport,
    policy: Policy,
    level: EnforcementLevel,
    args: Any,
    names: Mapping[str, tuple[str, str]],
    resource_urn: str | None,
) -> None:
    """One policy on one resource (or the stack), recording violations like the analyzer's diagnostics."""
    framework = policy.framework

    def report_violation(message: str, urn: str | None = None) -> None:
        # A resource policy's violations are always about its resource; a stack policy names one.
        target = resource_urn or urn or ""
        resource_type, name = names.get(target, ("", ""))
        report.violations.append(
            Violation(
                policy=policy.name,
                family=getattr(policy, "family", ""),
                severity=policy.severity.value if policy.severity else "",
                enforcement=level.value,
                framework=f"{framework.name} {framework.reference}" if framework else "",
                resource_type=resource_type,
                resource_name=name,
                urn=target,
                message=message,
            )
        )

    try:
        policy.validate(args, report_violation)  # type: ignore[attr-defined]
    except UnknownValueError as error:
        # The analyzer reports this as an advisory "can't run during preview" note, not a violation.
        report.not_evaluated.append({"policy": policy.name, "urn": resource_urn or "", "reason": error.message})
    except _NotApplicableError:
        pass
