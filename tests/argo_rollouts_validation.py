"""Argo Rollouts objects checked against their CRDs' types, at the pinned chart's app version.

No Python model of Argo Rollouts' CRDs is published (there is no cloudcoil-models package
for it), so the check runs under Node, like the Istio one (tests/custom_resource_validation.py):
@kubernetes-models/argo-rollouts 2.0.0, generated from the Go API types of argo-rollouts
v1.9.0 (`_charts.ARGO_ROLLOUTS` is chart 2.41.0, app v1.9.0; the chart's CRDs are generated
from the same types), and the TypeScript compiler 5.9.3 (package-lock.json).
`tests/argo_rollouts_models.mjs` reports, per manifest:

- `schema`: the package's validators: types, integers, required fields, and the pod
  template's Kubernetes types. Unknown fields pass, as with the Istio models.
- `strict`: TypeScript type-checks the manifest as an object literal of the package's
  interface (IRollout, IAnalysisTemplate): its excess-property check refuses every field the
  types do not declare, at any depth (`<path>: unknown field`), as the cloudcoil models'
  strict comparison does for Istio.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.custom_resource_validation import PROJECT_ROOT, run_node_script

NODE_SCRIPT = PROJECT_ROOT / "tests" / "argo_rollouts_models.mjs"
MODELS = PROJECT_ROOT / "node_modules" / "@kubernetes-models" / "argo-rollouts"
TYPESCRIPT = PROJECT_ROOT / "node_modules" / "typescript"


@dataclass(frozen=True)
class RolloutErrors:
    schema: list[str]
    """The package's validators: types and required fields; unknown fields pass."""
    strict: list[str]
    """TypeScript against the package's interfaces: unknown fields, types, required fields."""


def argo_rollouts_errors(manifests: Sequence[Mapping[str, Any]]) -> list[RolloutErrors]:
    """For each Rollout or AnalysisTemplate manifest, its errors against argo-rollouts v1.9.0's types."""
    for needed in (MODELS, TYPESCRIPT):
        if not needed.is_dir():
            raise RuntimeError(f"{needed} is missing: `make pytest` installs it (npm ci from package-lock.json)")
    results = run_node_script(NODE_SCRIPT, manifests)
    return [RolloutErrors(schema=result["schema"], strict=result["strict"]) for result in results]
