// Validates Argo Rollouts objects (Rollout, AnalysisTemplate) against @kubernetes-models/argo-rollouts
// (pinned in package-lock.json; 2.0.0 is generated from the Go API types of argo-rollouts v1.9.0,
// the app version of the pinned chart), two ways:
// - schema: the package's validators (types, required fields, and the pod template's Kubernetes
//   types). Like the Istio models they let unknown fields through.
// - strict: the TypeScript compiler (pinned) type-checks each manifest as an object literal of the
//   package's interface (IRollout, IAnalysisTemplate); TypeScript's excess-property check refuses
//   any field the type does not declare, at any depth, and its types refuse wrong kinds of values
//   and missing required fields.
// stdin: a JSON array of manifests. stdout: a JSON array with, per manifest, its errors
// (`<path>: <what>`, unknown fields as `<path>: unknown field`).
import { readFileSync } from "node:fs";

import { modelErrors, strictTypeErrors } from "./model_errors.mjs";

const MODULE = "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1";
const API_VERSION = "argoproj.io/v1alpha1";
const KINDS = new Set(["Rollout", "AnalysisTemplate"]);

async function schemaErrors(manifest) {
  const { [manifest.kind]: Model } = await import(`${MODULE}/${manifest.kind}`);
  return modelErrors(Model, manifest);
}

const manifests = JSON.parse(readFileSync(0, "utf8"));
const foreign = manifests.find((m) => m.apiVersion !== API_VERSION || !KINDS.has(m.kind));
if (foreign) throw new Error(`not an Argo Rollouts kind checked here: ${foreign.apiVersion} ${foreign.kind}`);
const strict = strictTypeErrors(MODULE, manifests, "argo_rollouts");
const results = [];
for (const [index, manifest] of manifests.entries()) {
  results.push({ schema: await schemaErrors(manifest), strict: strict[index] });
}
process.stdout.write(JSON.stringify(results));
