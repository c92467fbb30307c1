// Runs the generated OpenAPI validators and turns their ajv-style errors into user diagnostics.
// The generated schemas do not reject unknown fields, but the API server's strict field validation
// does; we detect them by recording which properties the validator looks at.
import { closest, describePattern, expectedType, quote, typeName } from "./describe.js";
import { getAt, segmentsFromPointer, type PathSegment } from "./field-path.js";
import type { Reporter } from "./reporter.js";

export interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export type SchemaValidator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

interface Tracking {
  proxy: unknown;
  /** For each object the validator opened: the property names it asked about. */
  touched: Map<object, Set<string>>;
}

function track(root: unknown): Tracking {
  const touched = new Map<object, Set<string>>();
  const cache = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    const hit = cache.get(v);
    if (hit) return hit;
    const seen = new Set<string>();
    touched.set(v, seen);
    const p = new Proxy(v, {
      get(t, k, r) {
        if (typeof k === "string") seen.add(k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        if (typeof k === "string") seen.add(k);
        return Reflect.has(t, k);
      },
      getOwnPropertyDescriptor(t, k) {
        if (typeof k === "string") seen.add(k);
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
    });
    cache.set(v, p);
    return p;
  };
  return { proxy: wrap(root), touched };
}

export interface SchemaCheckOptions {
  /** Top-level fields not to check (status is written by the gateway, never validated). */
  skipTopLevel?: readonly string[];
}

export function checkSchema(validator: SchemaValidator, obj: Record<string, unknown>, rep: Reporter, opts: SchemaCheckOptions = {}): void {
  const skip = new Set(opts.skipTopLevel ?? ["status"]);
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!skip.has(k)) input[k] = v;

  const t = track(input);
  const ok = validator(t.proxy);
  const errors = ok ? [] : (validator.errors ?? []);

  for (const e of errors) reportAjvError(validator, input, e, rep);
  reportUnknownFields(input, t.touched, rep);
}

function reportAjvError(validator: SchemaValidator, root: Record<string, unknown>, e: AjvError, rep: Reporter): void {
  const path = segmentsFromPointer(e.instancePath, root);
  const value = getAt(root, path);
  const p = e.params;
  switch (e.keyword) {
    case "required": {
      const missing = String(p.missingProperty);
      rep.error([...path, missing], `required field "${missing}" is missing`, `a value for ${missing}`);
      return;
    }
    case "type":
      rep.error(path, `${quote(value)} is ${typeName(value)}`, expectedType(p.type as string | string[]));
      return;
    case "enum": {
      const allowed = (p.allowedValues as unknown[]).map((v) => quote(v)).join(", ");
      rep.error(path, `unsupported value ${quote(value)}`, `one of ${allowed}`);
      return;
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      const range = numericRange(validator, root, path, e);
      rep.error(path, `${quote(value)} is out of range`, range);
      return;
    }
    case "pattern":
      rep.error(path, `invalid value ${quote(value)}`, describePattern(String(p.pattern)));
      return;
    case "minLength":
      rep.error(
        path,
        Number(p.limit) === 1 && value === "" ? "must not be empty" : `${quote(value)} is too short`,
        Number(p.limit) === 1 ? "a non-empty string" : `at least ${String(p.limit)} characters`,
      );
      return;
    case "maxLength":
      rep.error(path, `value is ${(value as string).length} characters long`, `at most ${String(p.limit)} characters`);
      return;
    case "minItems":
      rep.error(path, `has ${(value as unknown[]).length} entries`, `at least ${String(p.limit)} ${Number(p.limit) === 1 ? "entry" : "entries"}`);
      return;
    case "maxItems":
      rep.error(path, `has ${(value as unknown[]).length} entries`, `at most ${String(p.limit)} entries`);
      return;
    case "minProperties":
    case "maxProperties":
      rep.error(path, `has ${Object.keys(value as object).length} keys`, `${e.keyword === "minProperties" ? "at least" : "at most"} ${String(p.limit)} keys`);
      return;
    case "format": {
      const fmt = String(p.format);
      const words: Record<string, string> = {
        int32: "a 32-bit integer (-2147483648..2147483647)",
        int64: "a 64-bit integer",
        "date-time": "an RFC 3339 timestamp such as \"2024-01-02T03:04:05Z\"",
        byte: "base64-encoded data",
      };
      rep.error(path, `invalid value ${quote(value)}`, words[fmt] ?? `a value in ${fmt} format`);
      return;
    }
    default:
      rep.error(path, `invalid value ${quote(value)}: ${e.message ?? e.keyword}`);
  }
}

/** Finds both bounds of a numeric field by probing the validator with extreme values. */
function numericRange(validator: SchemaValidator, root: Record<string, unknown>, path: PathSegment[], e: AjvError): string {
  const bound = (probe: number, keyword: string): number | undefined => {
    const copy = structuredClone(root);
    const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown> | undefined;
    if (!parent || typeof parent !== "object") return undefined;
    parent[path[path.length - 1]] = probe;
    validator(copy);
    const hit = (validator.errors ?? []).find((x) => x.keyword === keyword && segmentsEqual(segmentsFromPointer(x.instancePath, copy), path));
    return hit ? Number(hit.params.limit) : undefined;
  };
  const min = e.keyword === "minimum" ? Number(e.params.limit) : bound(-1e15, "minimum");
  const max = e.keyword === "maximum" ? Number(e.params.limit) : bound(1e15, "maximum");
  if (min !== undefined && max !== undefined) return `a number from ${min} to ${max}`;
  if (min !== undefined) return `a number >= ${min}`;
  if (max !== undefined) return `a number <= ${max}`;
  return `a number ${String(e.params.comparison)} ${String(e.params.limit)}`;
}

function segmentsEqual(a: PathSegment[], b: PathSegment[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function reportUnknownFields(root: Record<string, unknown>, touched: Map<object, Set<string>>, rep: Reporter): void {
  const walk = (node: unknown, path: PathSegment[]): void => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...path, i]));
      return;
    }
    const seen = touched.get(node);
    // An object the validator never opened is either free-form or already wrong: nothing to say.
    if (!seen || seen.size === 0) return;
    const known = [...seen].filter((k) => Object.prototype.hasOwnProperty.call(node, k) || !(k in Object.prototype));
    for (const [k, v] of Object.entries(node)) {
      if (seen.has(k)) walk(v, [...path, k]);
      else {
        const guess = closest(k, known.filter((x) => !/^\d+$/.test(x) && x !== "length"));
        const fields = known.filter((x) => x !== "length" && !/^\d+$/.test(x) && !(x in Object.prototype)).sort();
        rep.error([...path, k], `unknown field "${k}"`, guess ? `did you mean "${guess}"? known fields here: ${fields.join(", ")}` : `one of the known fields: ${fields.join(", ")}`);
      }
    }
  };
  walk(root, []);
}
