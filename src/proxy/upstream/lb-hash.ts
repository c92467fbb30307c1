// What a consistent-hash load balancer hashes, read from the request without allocating: FNV-1a
// over character ranges of strings the request already has (socket address, header values, the
// URL's query, the Cookie header), with a final avalanche so nearby inputs spread over the table.
import type { IncomingHttpHeaders } from "node:http";
import type { IrHashInput } from "../../ir/types.js";

/** The parts of a request (node:http or the HTTP/2 compat API) a picker may read. */
export interface HashSource {
  readonly headers: IncomingHttpHeaders;
  readonly url?: string | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } | null;
}

const FNV_OFFSET = 0x811c9dc5;

export function fnvRange(h: number, s: string, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/**
 * Avalanche (murmur3 finaliser), kept to 30 bits: V8 stores such integers unboxed (a full uint32
 * would become a heap number on every pick).
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 2;
}

/** Hashes range over 0 .. HASH_SPACE - 1. */
export const HASH_SPACE = 0x40000000;

export function hashString(s: string, seed = 0): number {
  return mix32(fnvRange((FNV_OFFSET ^ seed) >>> 0, s, 0, s.length));
}

/** Start of the value of cookie `name` in a Cookie header, or -1; the value ends at the next ';'. */
export function cookieValueAt(header: string, name: string): number {
  const n = name.length;
  let i = 0;
  const len = header.length;
  while (i < len) {
    while (i < len && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 59)) i++;
    if (header.startsWith(name, i) && header.charCodeAt(i + n) === 61 /* = */) return i + n + 1;
    const semi = header.indexOf(";", i);
    if (semi < 0) return -1;
    i = semi + 1;
  }
  return -1;
}

export function cookieValueEnd(header: string, start: number): number {
  const semi = header.indexOf(";", start);
  let end = semi < 0 ? header.length : semi;
  while (end > start && header.charCodeAt(end - 1) === 32) end--;
  return end;
}

/** The cookie's value, or null (allocates: for the session paths, not per pick). */
export function cookieValue(headers: IncomingHttpHeaders, name: string): string | null {
  const raw = headers.cookie;
  const header = Array.isArray(raw) ? raw.join("; ") : raw;
  if (header === undefined) return null;
  const at = cookieValueAt(header, name);
  return at < 0 ? null : header.slice(at, cookieValueEnd(header, at));
}

/** Start of query parameter `name`'s value in a URL, or -1. */
function queryValueAt(url: string, name: string): number {
  let i = url.indexOf("?");
  if (i < 0) return -1;
  i++;
  const n = name.length;
  const len = url.length;
  while (i < len) {
    if (url.startsWith(name, i)) {
      const c = url.charCodeAt(i + n);
      if (c === 61 /* = */) return i + n + 1;
      if (i + n === len || c === 38 /* & */) return i + n;
    }
    const amp = url.indexOf("&", i);
    if (amp < 0) return -1;
    i = amp + 1;
  }
  return -1;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === "string") return v;
  return v.length > 0 ? v[0] : undefined;
}

/** The value the gateway makes up for a hash cookie the request lacks: from the client's address and port. */
export function generatedCookie(req: HashSource): string {
  const s = req.socket;
  return hashString(`${s?.remoteAddress ?? ""}:${s?.remotePort ?? 0}`, 0x5bd1e995).toString(16).padStart(8, "0");
}

export type HashFn = (req: HashSource) => number;

/**
 * A function from a request to a uint32 hash, or -1 when the request lacks every input (hashes are 30-bit) (the picker
 * then picks at random). A Cookie input with a TTL hashes the value the gateway will set instead.
 */
export function compileHash(on: IrHashInput): HashFn {
  switch (on.type) {
    case "SourceIP":
      return (req) => {
        const ip = req.socket?.remoteAddress;
        if (ip === undefined) return -1;
        // "::ffff:10.0.0.1" and "10.0.0.1" are one client.
        const from = ip.startsWith("::ffff:") ? 7 : 0;
        return mix32(fnvRange(FNV_OFFSET, ip, from, ip.length));
      };
    case "Header": {
      const names = on.names;
      return (req) => {
        let h = FNV_OFFSET;
        let any = false;
        for (let i = 0; i < names.length; i++) {
          const v = headerValue(req.headers, names[i]!);
          if (v === undefined) continue;
          any = true;
          h = fnvRange(h, v, 0, v.length);
          h = Math.imul(h ^ 0xff, 0x01000193); // separator: ("ab","c") != ("a","bc")
        }
        return any ? mix32(h) : -1;
      };
    }
    case "QueryParams": {
      const names = on.names;
      return (req) => {
        const url = req.url;
        if (url === undefined) return -1;
        let h = FNV_OFFSET;
        let any = false;
        for (let i = 0; i < names.length; i++) {
          const at = queryValueAt(url, names[i]!);
          if (at < 0) continue;
          any = true;
          let end = url.indexOf("&", at);
          if (end < 0) end = url.length;
          const hash = url.indexOf("#", at);
          if (hash >= 0 && hash < end) end = hash;
          h = fnvRange(h, url, at, end);
          h = Math.imul(h ^ 0xff, 0x01000193);
        }
        return any ? mix32(h) : -1;
      };
    }
    case "Cookie": {
      const name = on.name;
      const generate = on.ttlMs !== undefined;
      return (req) => {
        const raw = req.headers.cookie;
        const header = Array.isArray(raw) ? raw.join("; ") : raw;
        if (header !== undefined) {
          const at = cookieValueAt(header, name);
          if (at >= 0) return mix32(fnvRange(FNV_OFFSET, header, at, cookieValueEnd(header, at)));
        }
        if (!generate) return -1;
        const v = generatedCookie(req);
        return mix32(fnvRange(FNV_OFFSET, v, 0, v.length));
      };
    }
  }
}
