// One file's text -> validated, defaulted objects and diagnostics.
import { applyDefaults } from "./defaults.js";
import { closest, quote, typeName } from "./describe.js";
import { describeKnownKinds, knownKinds, lookupKind, type KindInfo } from "./kinds.js";
import { checkNames } from "./metadata.js";
import { Reporter } from "./reporter.js";
import { asObj } from "./rules/util.js";
import { checkSchema } from "./schema.js";
import { groupOf, refOf, type Diagnostic, type K8sObject, type LoadedObject, type ObjectRef } from "./types.js";
import { parseYamlFile, type ParsedDocument } from "./yaml-source.js";

/**
 * Objects that passed validation (defaults applied, implicit Namespaces added) and every problem found.
 * Any diagnostic with severity "error" means the folder is invalid: callers keep serving the last good
 * load. Objects with errors are left out of `objects`; their problems carry the object's ref.
 */
export interface LoadResult {
  objects: LoadedObject[];
  diagnostics: Diagnostic[];
}

const ENVELOPE = "a Kubernetes object: a mapping with apiVersion, kind and metadata.name";

/** Parses without the cross-object steps (duplicates, namespaces); loadDirectory runs those once over all files. */
export function parseFile(text: string, file: string): LoadResult {
  const out: LoadResult = { objects: [], diagnostics: [] };
  const parsed = parseYamlFile(text, file);
  for (const p of parsed.problems) {
    out.diagnostics.push({
      severity: p.severity,
      source: p.source,
      message: `YAML syntax: ${p.message}`,
      expected: p.severity === "error" ? "well-formed YAML (check indentation, quotes and ':' after keys)" : undefined,
    });
  }
  for (const doc of parsed.documents) {
    const loaded = loadDocument(doc);
    out.diagnostics.push(...loaded.diagnostics);
    if (loaded.object) out.objects.push(loaded.object);
  }
  for (const d of out.diagnostics) if (d.expected === undefined) delete d.expected;
  // Reading order within the file; the sort is stable, so problems at one spot keep their order.
  out.diagnostics.sort((a, b) => (a.source?.line ?? 0) - (b.source?.line ?? 0) || (a.source?.column ?? 0) - (b.source?.column ?? 0));
  return out;
}

function loadDocument(doc: ParsedDocument): { object?: LoadedObject; diagnostics: Diagnostic[] } {
  const target: { ref?: ObjectRef; locate: (f: string) => ReturnType<ParsedDocument["locate"]> } = { locate: (f) => doc.locate(f) };
  const rep = new Reporter(target);
  const value = asObj(doc.value);
  if (!value) {
    rep.error([], `the document is ${typeName(doc.value)} (${quote(doc.value)}), not a mapping`, ENVELOPE);
    return { diagnostics: rep.diagnostics };
  }
  const apiVersion = value.apiVersion;
  const kind = value.kind;
  const meta = asObj(value.metadata);
  if (apiVersion === undefined) rep.error(["apiVersion"], `required field "apiVersion" is missing`, 'the API group and version, e.g. "gateway.networking.k8s.io/v1" or "v1"');
  else if (typeof apiVersion !== "string") rep.error(["apiVersion"], `${quote(apiVersion)} is ${typeName(apiVersion)}`, 'a string such as "gateway.networking.k8s.io/v1"');
  if (kind === undefined) rep.error(["kind"], `required field "kind" is missing`, `one of the known kinds: ${knownKinds().map((k) => k.kind).join(", ")}`);
  else if (typeof kind !== "string") rep.error(["kind"], `${quote(kind)} is ${typeName(kind)}`, "a kind name such as \"HTTPRoute\"");
  if (value.metadata === undefined) rep.error(["metadata"], `required field "metadata" is missing`, "metadata with at least a name");
  else if (!meta) rep.error(["metadata"], `${quote(value.metadata)} is ${typeName(value.metadata)}`, "a mapping with at least a name");
  else if (meta.name === undefined || meta.name === null || meta.name === "") rep.error(["metadata", "name"], `required field "name" is missing`, "metadata.name: the object's name, e.g. \"my-route\"");
  else if (typeof meta.name !== "string") rep.error(["metadata", "name"], `${quote(meta.name)} is ${typeName(meta.name)}`, "a name (string)");
  if (rep.errorCount > 0) return { diagnostics: rep.diagnostics };

  const obj = value as K8sObject;
  const group = groupOf(obj.apiVersion);
  const version = obj.apiVersion.slice(obj.apiVersion.indexOf("/") + 1);
  target.ref = { group, kind: obj.kind, name: obj.metadata.name };
  if (typeof obj.metadata.namespace === "string") target.ref.namespace = obj.metadata.namespace;
  const info = resolveKind(obj, group, version, rep);
  if (!info) return { diagnostics: rep.diagnostics };

  checkNames(obj, info, rep);
  applyDefaults(obj, group, info.namespaced);
  target.ref = refOf(obj);
  const validator = info.versions[version];
  if (validator) checkSchema(validator, schemaView(obj), rep);
  try {
    info.check?.(obj, rep);
  } catch (e) {
    // A rule tripping over a malformed value the schema already reported must not hide the rest.
    if (rep.errorCount === 0) rep.error([], `internal validation failure: ${(e as Error).message}`);
  }
  if (rep.errorCount > 0) return { diagnostics: rep.diagnostics };
  const loaded: LoadedObject = { object: obj, source: doc.source, locate: (f) => doc.locate(f) };
  return { object: loaded, diagnostics: rep.diagnostics };
}

function resolveKind(obj: K8sObject, group: string, version: string, rep: Reporter): KindInfo | undefined {
  const info = lookupKind(group, obj.kind);
  const apiVersions = (k: KindInfo): string => Object.keys(k.versions).map((v) => quote(k.group ? `${k.group}/${v}` : v)).join(", ");
  if (!info) {
    const elsewhere = knownKinds().filter((k) => k.kind === obj.kind);
    if (elsewhere.length > 0) {
      rep.error(["apiVersion"], `${obj.kind} is not served by apiVersion ${quote(obj.apiVersion)}`, `apiVersion ${elsewhere.map(apiVersions).join(" or ")}`);
    } else {
      const ci = closest(obj.kind, knownKinds().map((k) => k.kind));
      rep.error(["kind"], `unknown kind ${quote(obj.kind)} (apiVersion ${quote(obj.apiVersion)})`, ci ? `did you mean ${quote(ci)}? known kinds: ${describeKnownKinds()}` : `one of the known kinds: ${describeKnownKinds()}`);
    }
    return undefined;
  }
  if (!(version in info.versions)) {
    rep.error(["apiVersion"], `${obj.kind} has no version ${quote(version)} (apiVersion ${quote(obj.apiVersion)})`, `apiVersion ${apiVersions(info)}`);
    return undefined;
  }
  return info;
}

/**
 * The generated GatewayClass schema lost spec.description (its generator took the field for the
 * JSON Schema keyword), so the schema sees the object without it and checkGatewayClass checks it.
 */
function schemaView(obj: K8sObject): K8sObject {
  const spec = obj.spec;
  if (obj.kind !== "GatewayClass" || spec === null || typeof spec !== "object" || !("description" in spec)) return obj;
  const { description: _checkedByRule, ...rest } = spec as Record<string, unknown>;
  return { ...obj, spec: rest };
}
