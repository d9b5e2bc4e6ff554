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

import { modelErrors } from "./model_errors.mjs";
import path from "node:path";
import ts from "typescript";

const MODULE = "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1";
const API_VERSION = "argoproj.io/v1alpha1";
const KINDS = new Set(["Rollout", "AnalysisTemplate"]);
// TypeScript's "Object literal may only specify known properties" (and its "did you mean" form).
const EXCESS_PROPERTY = new Set([2353, 2561]);

async function schemaErrors(manifest) {
  const { [manifest.kind]: Model } = await import(`${MODULE}/${manifest.kind}`);
  return modelErrors(Model, manifest);
}

// The manifest path of the innermost property or element of `node` that contains `position`.
function pathAt(node, position, parts = []) {
  if (ts.isObjectLiteralExpression(node)) {
    for (const property of node.properties) {
      if (property.getStart() <= position && position < property.getEnd() && ts.isPropertyAssignment(property)) {
        parts.push(property.name.text);
        return pathAt(property.initializer, position, parts);
      }
    }
  } else if (ts.isArrayLiteralExpression(node)) {
    for (const [index, element] of node.elements.entries()) {
      if (element.getStart() <= position && position < element.getEnd()) {
        parts.push(`[${index}]`);
        return pathAt(element, position, parts);
      }
    }
  }
  return parts;
}

function joinPath(parts) {
  return parts.reduce((joined, part) => (part.startsWith("[") || !joined ? joined + part : `${joined}.${part}`), "") || "(root)";
}

function strictErrors(manifests) {
  const fileName = path.join(process.cwd(), "__argo_rollouts_manifests__.ts");
  const kinds = [...new Set(manifests.map((m) => m.kind))];
  const lines = kinds.map((kind) => `import type { I${kind} } from "${MODULE}/${kind}";`);
  manifests.forEach((manifest, index) => {
    lines.push(`export const manifest${index}: I${manifest.kind} = ${JSON.stringify(manifest, null, 2)};`);
  });
  const text = lines.join("\n") + "\n";
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) => (name === fileName ? source : getSourceFile.call(host, name, ...rest));
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? text : readFile.call(host, name));
  const program = ts.createProgram([fileName], options, host);

  const declarations = source.statements
    .filter(ts.isVariableStatement)
    .map((statement) => statement.declarationList.declarations[0]);
  const results = manifests.map(() => []);
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  for (const diagnostic of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    const index = declarations.findIndex((d) => d.getStart() <= diagnostic.start && diagnostic.start < d.getEnd());
    if (index < 0) throw new Error(`not in a manifest: ${message}`);
    const where = joinPath(pathAt(declarations[index].initializer, diagnostic.start));
    results[index].push(EXCESS_PROPERTY.has(diagnostic.code) ? `${where}: unknown field` : `${where}: ${message}`);
  }
  return results;
}

const manifests = JSON.parse(readFileSync(0, "utf8"));
const foreign = manifests.find((m) => m.apiVersion !== API_VERSION || !KINDS.has(m.kind));
if (foreign) throw new Error(`not an Argo Rollouts kind checked here: ${foreign.apiVersion} ${foreign.kind}`);
const strict = strictErrors(manifests);
const results = [];
for (const [index, manifest] of manifests.entries()) {
  results.push({ schema: await schemaErrors(manifest), strict: strict[index] });
}
process.stdout.write(JSON.stringify(results));
