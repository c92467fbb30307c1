// Shared resource model: what providers produce and the translator consumes.
// Objects are plain JSON as the Kubernetes API would serve them (defaults applied).

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
}

/** Any Kubernetes-shaped object. Kind-specific shapes come from @kubernetes-models typings. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Identifies one object; `group` is "" for the core group. */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Where a document or field came from (1-based line/column). */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** An object as loaded by a provider, with enough source info to point a user at a field. */
export interface LoadedObject {
  object: K8sObject;
  /** Start of the YAML document (or API server identity for non-file providers). */
  source: SourceLocation;
  /** Location of a field path like "spec.rules[0].backendRefs[1].port"; falls back to the closest parent. */
  locate(fieldPath: string): SourceLocation;
}

export type Severity = "error" | "warning";

/**
 * One user-facing problem. Rendered as
 *   file:line:col Kind namespace/name field: message (expected: ...)
 */
export interface Diagnostic {
  severity: Severity;
  source?: SourceLocation;
  ref?: ObjectRef;
  /** Field path in dotted/indexed form: spec.rules[0].matches[1].path.value */
  field?: string;
  /** What is wrong. */
  message: string;
  /** What would be right. */
  expected?: string;
}

/** Kubernetes condition as written into .status (lastTransitionTime is stamped by the control plane). */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** The .status the translator computed for one object. */
export interface StatusEntry {
  ref: ObjectRef;
  status: Record<string, unknown>;
}

export function refKey(ref: ObjectRef): string {
  return `${ref.group}/${ref.kind}/${ref.namespace ?? ""}/${ref.name}`;
}

export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}

export function refOf(obj: K8sObject): ObjectRef {
  const ref: ObjectRef = { group: groupOf(obj.apiVersion), kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace !== undefined) ref.namespace = obj.metadata.namespace;
  return ref;
}

/** One line a human can act on. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  if (d.source) parts.push(`${d.source.file}:${d.source.line}:${d.source.column}`);
  if (d.ref) parts.push(`${d.ref.kind} ${d.ref.namespace ? d.ref.namespace + "/" : ""}${d.ref.name}`);
  const head = parts.join(" ");
  const field = d.field ? `${d.field}: ` : "";
  const expected = d.expected ? ` (expected: ${d.expected})` : "";
  return `${d.severity}: ${head}${head ? ": " : ""}${field}${d.message}${expected}`;
}
