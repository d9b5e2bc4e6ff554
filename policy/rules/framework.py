"""What every rule module builds on: controls with their metadata, and property helpers.

A control is a `pulumi_policy` policy that also knows:
- which resource types it inspects (`resource_types`), so the runner and the tests can
  find its fixtures;
- its family (`aws-eks`, `gcp-gke`, ...), for the report;
- `when_absent`: what the cloud does when the property it checks is not set, and so
  whether absence is a violation. Absent means the insecure default unless the provider's
  default is known to be secure; each control says which case applies.

Severity decides enforcement: critical and high are MANDATORY, medium and low ADVISORY.
A stack's policy config file (`--policy-pack-config policy/config/<stack>.json`) may
change a level or a control's settings; controls never branch on the stack's name.

Unknown values: the engine wraps props in a proxy that raises `UnknownValueError` when a
check reads a value that is not known during preview. Resource controls let it propagate:
the SDK's analyzer turns it into an advisory "can't run during preview" note, never a
violation (what a check reported before it reached the unknown value stays reported, as in
the engine). Stack controls read many resources, so they skip only what is unknown
(`known()` per resource, `get_or_unknown()` per value) and go on with the rest.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

Config = Mapping[str, Any]
ResourceCheck = Callable[[ResourceValidationArgs, Config], Iterable[str]]
StackFinding = tuple[PolicyResource, str]
StackCheck = Callable[[StackValidationArgs, Config], Iterable[StackFinding]]

MANDATORY_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})


def enforcement_for(severity: Severity) -> EnforcementLevel:
    """Critical and high block the update; medium and low are reported."""
    return EnforcementLevel.MANDATORY if severity in MANDATORY_SEVERITIES else EnforcementLevel.ADVISORY


# -- framework references ------------------------------------------------------------


def _framework(name: str, version: str) -> Callable[[str], PolicyComplianceFramework]:
    def reference(control_id: str) -> PolicyComplianceFramework:
        return PolicyComplianceFramework(name=name, version=version, reference=control_id)

    return reference


cis_eks = _framework("CIS Amazon EKS Benchmark", "1.7.0")
cis_gke = _framework("CIS Google Kubernetes Engine (GKE) Benchmark", "1.6.0")
cis_aws = _framework("CIS AWS Foundations Benchmark", "3.0.0")
cis_gcp = _framework("CIS Google Cloud Platform Foundation Benchmark", "3.0.0")
aws_fsbp = _framework("AWS Foundational Security Best Practices", "1.0.0")
checkov = _framework("checkov", "3")
security_hub = _framework("AWS Security Hub controls (NIST SP 800-53 r5 standard)", "r5")
platform_baseline = _framework("multicloud-platform security baseline", "1")
requirement = _framework("HEAL7 design and email-platform ops guide", "2026")
cloudflare_guide = _framework("Cloudflare SSL/TLS and Load Balancing recommendations", "2026")


# -- controls ------------------------------------------------------------------------


def _schema(settings: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in settings.items()}) if settings else None


def _policy_options(
    severity: Severity,
    framework: PolicyComplianceFramework,
    remediation: str,
    family: str,
    settings: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """The `pulumi_policy.Policy` arguments every control derives the same way."""
    return {
        "enforcement_level": enforcement_for(severity),
        "config_schema": _schema(settings),
        "severity": severity,
        "framework": framework,
        "tags": [family],
        "remediation_steps": remediation,
    }


class _Metadata:
    """Fields shared by resource and stack controls, beyond `pulumi_policy.Policy`'s."""

    family: str
    when_absent: str
    settings: Mapping[str, Mapping[str, Any]]

    def _keep_metadata(self, family: str, when_absent: str, settings: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.family = family
        self.when_absent = when_absent
        self.settings = settings or {}

    def settings_with_defaults(self, configured: Config) -> dict[str, Any]:
        """The engine hands over only what the config file sets; the schema's defaults fill the rest."""
        merged = {key: schema["default"] for key, schema in self.settings.items() if "default" in schema}
        merged.update(configured)
        return merged


def violation_message(name: str, resource_type: str, problem: str, remediation: str) -> str:
    return f"{name} ({resource_type}): {problem}. Fix: {remediation}"


class ResourceControl(ResourceValidationPolicy, _Metadata):
    """A check of one resource's inputs, for the resource types it names."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        severity: Severity,
        framework: PolicyComplianceFramework,
        remediation: str,
        resource_types: Iterable[str],
        when_absent: str,
        check: ResourceCheck,
        family: str,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        super().__init__(
            name=name,
            description=description,
            validate=self._validate,
            **_policy_options(severity, framework, remediation, family, settings),
        )
        self._keep_metadata(family, when_absent, settings)
        self.resource_types = frozenset(resource_types)
        self._check = check

    def _validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        config = self.settings_with_defaults(args.get_config())
        for problem in self._check(args, config):
            report_violation(
                violation_message(args.name, args.resource_type, problem, self.remediation_steps or ""), None
            )


class StackControl(StackValidationPolicy, _Metadata):
    """A check across the stack's resources (relationships, protect flags, the whole graph)."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        severity: Severity,
        framework: PolicyComplianceFramework,
        remediation: str,
        when_absent: str,
        check: StackCheck,
        family: str,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        super().__init__(
            name=name,
            description=description,
            validate=self._validate,
            **_policy_options(severity, framework, remediation, family, settings),
        )
        self._keep_metadata(family, when_absent, settings)
        self._check = check

    def _validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = self.settings_with_defaults(args.get_config())
        for resource, problem in self._check(args, config):
            message = violation_message(resource.name, resource.resource_type, problem, self.remediation_steps or "")
            report_violation(message, resource.urn)


# -- property helpers ----------------------------------------------------------------

# The internet, for the ingress controls of both clouds.
ANYWHERE = ("0.0.0.0/0", "::/0")
# Settings of the AWS security-group and GCP firewall ingress controls.
PUBLIC_INGRESS_SETTINGS = {
    "allowedPublicPorts": {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 65535},
        "default": [80, 443],
        "description": "ports the ingress load balancer may open to the internet",
    },
    "ingressLoadBalancerPattern": {
        "type": "string",
        "default": "ingress-lb",
        "description": "regex on the resource name that marks the ingress load balancer's rule or group",
    },
}


def get(props: Mapping[str, Any], path: str) -> Any:
    """`props["a"]["b"]` for `path="a.b"`, or None when any step is absent.

    Reading through the engine's proxy raises `UnknownValueError` on an unknown value.
    """
    value: Any = props
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def is_true(value: Any) -> bool:
    """Booleans, and the "true" strings some provider fields use (launch-template EBS)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_list(value: Any) -> list[Any]:
    """A list input, or one nested object the provider flattens (maxItems 1), as a list."""
    if value is None:
        return []
    if isinstance(value, (Mapping, str)):
        return [value]
    return list(value)


def as_json(value: Any) -> Any:
    """Policy documents and provider config arrive as JSON strings; objects pass through."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


UNKNOWN: Any = object()
"""What `get_or_unknown` returns for a value that is unknown during preview."""


def get_or_unknown(props: Mapping[str, Any], path: str) -> Any:
    """`get(props, path)`, or UNKNOWN when the value is not known yet (preview)."""
    try:
        return get(props, path)
    except UnknownValueError:
        return UNKNOWN


def known(
    resources: Iterable[PolicyResource], check: Callable[[PolicyResource], Iterable[str]]
) -> Iterator[StackFinding]:
    """Run `check` on each resource; one whose checked value is unknown in preview is skipped."""
    for resource in resources:
        try:
            problems = list(check(resource))
        except UnknownValueError:
            continue
        for problem in problems:
            yield resource, problem
