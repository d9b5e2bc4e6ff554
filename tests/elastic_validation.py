"""ECK objects (Elasticsearch, Kibana) checked against their CRDs' types.

No Python model of ECK's CRDs is installable, so the check runs under Node like the Argo
Rollouts one (tests/argo_rollouts_validation.py): @kubernetes-models/elastic-cloud 2.0.0,
generated from the Go API types of ECK v3.3.2, and the TypeScript compiler 5.9.3
(package-lock.json). The platform runs ECK 3.5.0 (`_charts.ECK_OPERATOR`). Between v3.3.2 and
v3.5.0 (pkg/apis/{elasticsearch,kibana,common}/v1) the Elasticsearch and Kibana types only
gained fields where the platform sets any: `http` client-certificate options,
`elasticsearchRef.clientCertificateSecretName`, `nodeSets[].zoneAwareness` and
`nodeSets[].resources`; the one narrowed field, Kibana's `packageRegistryRef`, is not set. So a
manifest these types accept is one the 3.5.0 CRDs accept; the newer fields stay unused. `tests/elastic_models.mjs` reports, per manifest:

- `schema`: the package's validators: types, integers, required fields, the pod template's
  Kubernetes types. Unknown fields pass.
- `strict`: TypeScript type-checks the manifest as an object literal of IElasticsearch or
  IKibana: its excess-property check refuses every field the types do not declare, at any depth.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from tests.argo_rollouts_validation import RolloutErrors as ModelErrors
from tests.custom_resource_validation import PROJECT_ROOT, run_node_script

NODE_SCRIPT = PROJECT_ROOT / "tests" / "elastic_models.mjs"
MODELS = PROJECT_ROOT / "node_modules" / "@kubernetes-models" / "elastic-cloud"
TYPESCRIPT = PROJECT_ROOT / "node_modules" / "typescript"


def elastic_errors(manifests: Sequence[Mapping[str, Any]]) -> list[ModelErrors]:
    """For each Elasticsearch or Kibana manifest, its errors against ECK v3.3.2's types."""
    for needed in (MODELS, TYPESCRIPT):
        if not needed.is_dir():
            raise RuntimeError(f"{needed} is missing: `make pytest` installs it (npm ci from package-lock.json)")
    results = run_node_script(NODE_SCRIPT, manifests)
    return [ModelErrors(schema=result["schema"], strict=result["strict"]) for result in results]
