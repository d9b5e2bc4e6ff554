"""`validate_builtin(objects, version)`: every built-in Kubernetes object checked with
kubernetes-validate in strict mode (an unknown field fails) against the cluster's version.

Built-in means an API group Kubernetes itself serves. Objects of any other group are custom
resources: they are returned apart, for the tests that check them against their CRDs. A
built-in apiVersion the version does not serve (a removed beta) is an error, not a custom
resource.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate

# API groups served by kube-apiserver itself (`kubectl api-versions` on a bare 1.35 cluster);
# "" is the core group. Groups such as gateway.networking.k8s.io or snapshot.storage.k8s.io
# end in k8s.io but are CRDs, so the list is explicit rather than a suffix rule.
BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def describe(manifest: Mapping[str, Any]) -> str:
    metadata = manifest.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{manifest.get('apiVersion')} {manifest.get('kind')} {where}{metadata.get('name')}"


@dataclass
class BuiltinValidation:
    version: str
    validated: list[str] = field(default_factory=list)
    custom: list[dict[str, Any]] = field(default_factory=list)
    """Custom resources, left to the CRD-schema tests."""
    errors: list[str] = field(default_factory=list)


def validate_builtin(objects: Iterable[Mapping[str, Any]], version: str) -> BuiltinValidation:
    """Validate each built-in object strictly against Kubernetes `version` ("1.35")."""
    report = BuiltinValidation(version)
    for manifest in objects:
        if api_group(str(manifest["apiVersion"])) not in BUILTIN_GROUPS:
            report.custom.append(dict(manifest))
            continue
        try:
            kubernetes_validate.validate(dict(manifest), version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path) or "(root)"
            report.errors.append(f"{describe(manifest)}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            report.errors.append(f"{describe(manifest)}: {error.message}")
        else:
            report.validated.append(describe(manifest))
    return report
