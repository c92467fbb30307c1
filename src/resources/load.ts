// A folder of YAML/JSON -> one LoadResult: every file parsed, then duplicates and namespaces resolved.
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { formatPath } from "./field-path.js";
import { parseFile, type LoadResult } from "./parse.js";
import { refKey, refOf, type Diagnostic, type LoadedObject, type SourceLocation } from "./types.js";

export const CONFIG_EXTENSIONS = [".yaml", ".yml", ".json"];

export function isConfigFile(name: string): boolean {
  return !name.startsWith(".") && CONFIG_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));
}

export function parseDocuments(text: string, file: string): LoadResult {
  return finishLoad(parseFile(text, file));
}

/**
 * Per-file parse results kept between loads of one folder, keyed by path and compared by content:
 * a file whose text is unchanged is not parsed or validated again. Callers get copies, so whatever
 * later steps write into objects (generation, namespace labels) never leaks into the cache.
 * With `shared`, callers get the cached objects themselves (no copy, and the same object for an
 * unchanged document on every load, which lets later steps cache by identity); they must then
 * treat the objects as read-only.
 */
export class ParseCache {
  private entries = new Map<string, { text: string; result: LoadResult }>();
  private readonly shared: boolean;

  constructor(opts: { shared?: boolean } = {}) {
    this.shared = opts.shared ?? false;
  }

  /** The parse result for this file and text, fresh copies of the cached one when the text is the same. */
  parse(file: string, text: string, seen: Set<string>): LoadResult {
    seen.add(file);
    const hit = this.entries.get(file);
    if (hit && hit.text === text) return this.shared ? hit.result : copyResult(hit.result);
    const result = parseFile(text, file);
    this.entries.set(file, { text, result: this.shared ? result : copyResult(result) });
    return result;
  }

  /** Drops files that were not part of the last load (deleted, renamed, unreadable). */
  retain(seen: Set<string>): void {
    for (const file of this.entries.keys()) if (!seen.has(file)) this.entries.delete(file);
  }

  get size(): number {
    return this.entries.size;
  }
}

function copyResult(r: LoadResult): LoadResult {
  return {
    objects: r.objects.map((o) => ({ object: structuredClone(o.object), source: { ...o.source }, locate: o.locate })),
    diagnostics: structuredClone(r.diagnostics),
  };
}

export async function loadDirectory(dir: string, cache?: ParseCache): Promise<LoadResult> {
  const result: LoadResult = { objects: [], diagnostics: [] };
  let files: string[];
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) {
      result.diagnostics.push({ severity: "error", source: { file: dir, line: 1, column: 1 }, message: "the configuration path is not a folder", expected: "a folder of *.yaml, *.yml or *.json files" });
      return result;
    }
    files = await listConfigFiles(dir);
  } catch (e) {
    result.diagnostics.push({ severity: "error", source: { file: dir, line: 1, column: 1 }, message: `cannot read the configuration folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, expected: "an existing, readable folder" });
    return result;
  }
  const seen = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue; // deleted while we were listing: the next reload sees the final state
      result.diagnostics.push({ severity: "error", source: { file, line: 1, column: 1 }, message: `cannot read the file: ${code ?? (e as Error).message}`, expected: "a readable file" });
      continue;
    }
    const r = cache ? cache.parse(file, text, seen) : parseFile(text, file);
    for (const o of r.objects) result.objects.push(o);
    for (const d of r.diagnostics) result.diagnostics.push(d);
  }
  cache?.retain(seen);
  return finishLoad(result);
}

/**
 * Config files below root in a stable order (per folder in code-point order, depth first) and the
 * folders entered; hidden entries skipped; symlinks followed once.
 */
export async function walkConfigTree(root: string): Promise<{ files: string[]; dirs: Set<string> }> {
  const files: string[] = [];
  const dirs = new Set<string>();
  const visited = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    if (visited.has(real)) return; // symlink loop
    visited.add(real);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    dirs.add(dir);
    entries.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of entries) {
      if (name.startsWith(".")) continue;
      const full = join(dir, name);
      let st;
      try {
        st = await stat(full);
      } catch {
        continue; // dangling symlink or deleted meanwhile
      }
      if (st.isDirectory()) await walk(full);
      else if (st.isFile() && isConfigFile(name)) files.push(full);
    }
  };
  await walk(root);
  return { files, dirs };
}

async function listConfigFiles(root: string): Promise<string[]> {
  return (await walkConfigTree(root)).files;
}

/** Cross-object steps: duplicate detection, then the namespaces every object lives in. */
export function finishLoad(r: LoadResult): LoadResult {
  const objects: LoadedObject[] = [];
  const diagnostics: Diagnostic[] = [...r.diagnostics];
  const byKey = new Map<string, LoadedObject>();
  for (const o of r.objects) {
    const ref = refOf(o.object);
    const key = refKey(ref);
    const first = byKey.get(key);
    if (first) {
      diagnostics.push(duplicateDiagnostic(o, first));
      continue;
    }
    byKey.set(key, o);
    objects.push(o);
  }
  return { objects: addNamespaces(objects), diagnostics };
}

/** The error for a second object with the same (group, kind, namespace, name) as `first`. */
export function duplicateDiagnostic(o: LoadedObject, first: LoadedObject): Diagnostic {
  const ref = refOf(o.object);
  const field = formatPath(["metadata", "name"]);
  return {
    severity: "error",
    source: o.locate(field),
    ref,
    field,
    message: `${ref.kind} ${ref.namespace ? ref.namespace + "/" : ""}${ref.name} is defined twice: here and at ${where(first.locate(field))}`,
    expected: "each object (group, kind, namespace, name) defined once; rename or remove one of them",
  };
}

function where(s: SourceLocation): string {
  return `${s.file}:${s.line}:${s.column}`;
}

export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** Names of the Namespace objects given, each labelled with its name as a cluster would (the label selectors of namespace matching use it). */
export function labelExplicitNamespaces(objects: readonly LoadedObject[]): Set<string> {
  const explicit = new Set<string>();
  for (const o of objects) {
    if (o.object.apiVersion === "v1" && o.object.kind === "Namespace") {
      const meta = o.object.metadata;
      // Written once: a shared cached object keeps the label (and its identity) on later loads.
      if (meta.labels?.[NAMESPACE_NAME_LABEL] !== meta.name) meta.labels = { ...(meta.labels ?? {}), [NAMESPACE_NAME_LABEL]: meta.name };
      explicit.add(meta.name);
    }
  }
  return explicit;
}

/** Every namespace used exists: explicit Namespace objects get the name label, missing ones are made up. */
function addNamespaces(objects: LoadedObject[]): LoadedObject[] {
  const explicit = labelExplicitNamespaces(objects);
  const implicit: LoadedObject[] = [];
  const made = new Set<string>();
  for (const o of objects) {
    const ns = o.object.metadata.namespace;
    if (ns === undefined || explicit.has(ns) || made.has(ns)) continue;
    made.add(ns);
    const source = o.locate("metadata.namespace");
    implicit.push({
      object: { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { [NAMESPACE_NAME_LABEL]: ns } } },
      source,
      locate: () => source,
    });
  }
  return [...objects, ...implicit];
}
