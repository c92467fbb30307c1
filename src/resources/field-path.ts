// Field paths in the form users read them: spec.rules[0].backendRefs[1].port.
// Keys that are not plain identifiers are quoted: metadata.labels["app.kubernetes.io/name"].

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (PLAIN_KEY.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Inverse of formatPath; tolerant of a leading "." and of unquoted bracket keys. */
export function parsePath(path: string): PathSegment[] {
  const segs: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
    } else if (c === "[") {
      const end = findBracketEnd(path, i);
      const inner = path.slice(i + 1, end);
      if (/^\d+$/.test(inner)) segs.push(Number(inner));
      else if (inner.startsWith('"')) {
        try {
          segs.push(String(JSON.parse(inner)));
        } catch {
          segs.push(inner.slice(1, -1));
        }
      } else segs.push(inner);
      i = end + 1;
    } else {
      let j = i;
      while (j < path.length && path[j] !== "." && path[j] !== "[") j++;
      segs.push(path.slice(i, j));
      i = j;
    }
  }
  return segs;
}

function findBracketEnd(path: string, start: number): number {
  let inString = false;
  for (let i = start + 1; i < path.length; i++) {
    const c = path[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "]") return i;
  }
  return path.length;
}

/** Converts an ajv instancePath ("/spec/rules/0/port") into segments; numeric segments under arrays become indexes. */
export function segmentsFromPointer(pointer: string, root: unknown): PathSegment[] {
  if (pointer === "") return [];
  const segs: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      segs.push(Number(key));
      node = node[Number(key)];
    } else {
      segs.push(key);
      node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return segs;
}

export function getAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let node = root;
  for (const s of segments) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[s];
  }
  return node;
}
