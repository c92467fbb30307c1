// Header lists as flat [name, value, name, value, ...] arrays with lowercase names: cheap to build
// from rawHeaders, to edit with the header filters, and to hand to undici or writeHead.

/** Connection-level headers never forwarded in either direction. */
export function isHopByHop(lowerName: string): boolean {
  switch (lowerName) {
    case "connection":
    case "keep-alive":
    case "te":
    case "trailer":
    case "transfer-encoding":
    case "upgrade":
    case "http2-settings":
      return true;
    default:
      return lowerName.startsWith("proxy-");
  }
}

export function headerGet(list: string[], lowerName: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === lowerName) return list[i + 1];
  return undefined;
}

export function headerRemove(list: string[], lowerName: string): void {
  let w = 0;
  for (let r = 0; r < list.length; r += 2) {
    if (list[r] !== lowerName) {
      if (w !== r) {
        list[w] = list[r]!;
        list[w + 1] = list[r + 1]!;
      }
      w += 2;
    }
  }
  list.length = w;
}

export function headerSet(list: string[], lowerName: string, value: string): void {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === lowerName) {
      list[i + 1] = value;
      // Later duplicates are dropped: "set" leaves exactly one value.
      for (let j = list.length - 2; j > i; j -= 2) if (list[j] === lowerName) list.splice(j, 2);
      return;
    }
  }
  list.push(lowerName, value);
}

/** Appends to an existing value with ", " (the list form of a repeated header), or adds it. */
export function headerAppend(list: string[], lowerName: string, value: string): void {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === lowerName) {
      list[i + 1] = `${list[i + 1]}, ${value}`;
      return;
    }
  }
  list.push(lowerName, value);
}

/** Header names listed in a Connection header (other than keep-alive/close) are hop-by-hop too. */
export function connectionTokens(value: string | undefined): string[] | null {
  if (!value) return null;
  const v = value.toLowerCase();
  if (v === "keep-alive" || v === "close" || v === "upgrade") return null;
  const out: string[] = [];
  for (const t of v.split(",")) {
    const n = t.trim();
    if (n && n !== "keep-alive" && n !== "close" && n !== "upgrade") out.push(n);
  }
  return out.length ? out : null;
}

/** Flat list -> object for APIs that need one (HTTP/2); repeated names become arrays. */
export function toHeaderObject(list: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i]!;
    const v = list[i + 1]!;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

/** Cookie header -> name/value pairs (the first of a repeated name wins, as browsers send the most specific first). */
export function cookieJar(header: string | string[] | undefined): Map<string, string> {
  const jar = new Map<string, string>();
  const text = Array.isArray(header) ? header.join("; ") : header;
  if (!text) return jar;
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!jar.has(name)) jar.set(name, part.slice(eq + 1).trim());
  }
  return jar;
}
