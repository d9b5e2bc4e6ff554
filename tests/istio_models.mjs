// Validates Istio objects with @kubernetes-models/istio (pinned in package-lock.json; version
// 3.0.1 is generated from Istio 1.29.2's crd-all.gen.yaml): types, enums, patterns and
// required fields. Unknown fields pass here; tests/custom_resource_validation.py refuses them.
// stdin: a JSON array of manifests. stdout: a JSON array with, per manifest, its errors.
import { readFileSync } from "node:fs";

import { modelErrors } from "./model_errors.mjs";

const GROUP = /^[a-z]+\.istio\.io$/;
const NAME = /^[A-Za-z0-9]+$/;

async function errorsOf(manifest) {
  const [group, version] = String(manifest.apiVersion).split("/");
  const kind = String(manifest.kind);
  if (!GROUP.test(group) || !NAME.test(version ?? "") || !NAME.test(kind)) {
    return [`not an Istio kind: ${manifest.apiVersion} ${kind}`];
  }
  let Model;
  try {
    Model = (await import(`@kubernetes-models/istio/${group}/${version}/${kind}`))[kind];
  } catch {
    return [`@kubernetes-models/istio has no model for ${manifest.apiVersion} ${kind}`];
  }
  return modelErrors(Model, manifest);
}

const manifests = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const manifest of manifests) results.push(await errorsOf(manifest));
process.stdout.write(JSON.stringify(results));
