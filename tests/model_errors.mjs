// Shared by the CRD-schema validators (istio_models.mjs, argo_rollouts_models.mjs,
// elastic_models.mjs):
// - modelErrors: a @kubernetes-models model's validation errors for one manifest, as
//   `<path>: <what>` lines (types, required fields; unknown fields pass).
// - strictTypeErrors: the TypeScript compiler (pinned) type-checks each manifest as an object
//   literal of the package's interface (I<Kind>); its excess-property check refuses any field
//   the type does not declare, at any depth (`<path>: unknown field`), and its types refuse
//   wrong kinds of values and missing required fields.
import path from "node:path";
import ts from "typescript";

// TypeScript's "Object literal may only specify known properties" (and its "did you mean" form).
const EXCESS_PROPERTY = new Set([2353, 2561]);

export function modelErrors(Model, manifest) {
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    if (!Array.isArray(error.errors)) throw error;
    return error.errors.map((e) => {
      const allowed = e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : "";
      return `${e.instancePath || "(root)"}: ${e.message}${allowed}`;
    });
  }
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

export function strictTypeErrors(module, manifests, fileStem) {
  const fileName = path.join(process.cwd(), `__${fileStem}_manifests__.ts`);
  const kinds = [...new Set(manifests.map((m) => m.kind))];
  const lines = kinds.map((kind) => `import type { I${kind} } from "${module}/${kind}";`);
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
