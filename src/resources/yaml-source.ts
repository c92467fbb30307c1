// YAML (and JSON) text -> documents that remember where each field was written.
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Node } from "yaml";
import type { SourceLocation } from "./types.js";
import { parsePath, type PathSegment } from "./field-path.js";

export interface ParsedDocument {
  /** The document's value as plain JSON-like data (undefined for an empty document). */
  value: unknown;
  /** Where the document's content starts. */
  source: SourceLocation;
  locate(fieldPath: string | readonly PathSegment[]): SourceLocation;
}

export interface YamlProblem {
  severity: "error" | "warning";
  message: string;
  source: SourceLocation;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  problems: YamlProblem[];
}

export function parseYamlFile(text: string, file: string): ParsedFile {
  const lineCounter = new LineCounter();
  const at = (offset: number): SourceLocation => {
    const p = lineCounter.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  const out: ParsedFile = { documents: [], problems: [] };
  // prettyErrors off: we want the one-line message; the position is reported separately.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) return out; // empty stream
  for (const doc of docs) {
    let failed = false;
    for (const e of doc.errors) {
      failed = true;
      out.problems.push({ severity: "error", message: firstLine(e.message), source: at(e.pos[0]) });
    }
    for (const w of doc.warnings) {
      out.problems.push({ severity: "warning", message: firstLine(w.message), source: at(w.pos[0]) });
    }
    if (failed) continue;
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null)) continue; // empty document
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      out.problems.push({ severity: "error", message: (e as Error).message, source: at(contents.range?.[0] ?? 0) });
      continue;
    }
    const start = at(contents.range?.[0] ?? 0);
    out.documents.push({
      value,
      source: start,
      locate: (fieldPath) => {
        const segs = typeof fieldPath === "string" ? parsePath(fieldPath) : fieldPath;
        return at(locateOffset(contents, segs));
      },
    });
  }
  return out;
}

function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return (i < 0 ? s : s.slice(0, i)).trim();
}

/** Offset of the deepest node on the path: a mapping field points at its key, a list item at the item. */
function locateOffset(root: Node, segs: readonly PathSegment[]): number {
  let node: unknown = root;
  let offset = root.range?.[0] ?? 0;
  for (const seg of segs) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}
