// Validates ECK objects (Elasticsearch, Kibana) against @kubernetes-models/elastic-cloud (pinned
// in package-lock.json; 2.0.0 is generated from the Go API types of ECK v3.3.2, go.mod of
// third-party/elastic-cloud; the platform runs ECK 3.5.0, whose types only add fields), two ways,
// as argo_rollouts_models.mjs does:
// - schema: the package's validators (types, required fields, the pod template's Kubernetes types).
// - strict: TypeScript type-checks the manifest as an object literal of IElasticsearch / IKibana,
//   refusing every field the types do not declare, at any depth.
// stdin: a JSON array of manifests. stdout: a JSON array with, per manifest, its errors.
import { readFileSync } from "node:fs";

import { modelErrors, strictTypeErrors } from "./model_errors.mjs";

const PACKAGE = "@kubernetes-models/elastic-cloud";
const KINDS = {
  "elasticsearch.k8s.elastic.co/v1": "Elasticsearch",
  "kibana.k8s.elastic.co/v1": "Kibana",
};

function moduleOf(manifest) {
  if (KINDS[manifest.apiVersion] !== manifest.kind) {
    throw new Error(`not an ECK kind checked here: ${manifest.apiVersion} ${manifest.kind}`);
  }
  return `${PACKAGE}/${manifest.apiVersion}`;
}

const manifests = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const manifest of manifests) {
  const module = moduleOf(manifest);
  const { [manifest.kind]: Model } = await import(`${module}/${manifest.kind}`);
  const [strict] = strictTypeErrors(module, [manifest], "elastic");
  results.push({ schema: modelErrors(Model, manifest), strict });
}
process.stdout.write(JSON.stringify(results));
