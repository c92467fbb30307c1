// The request heads the HTTP/1.1 fast path takes (src/proxy/h1/connection.ts): a strict subset of
// RFC 9112 that covers what clients send for a request without a body. Anything outside it (bodies,
// upgrades, Expect, HTTP/1.0, absolute-form or `*` targets, obs-fold, duplicate fields, bytes a
// strict parser would question) is not parsed here at all: the connection goes to node:http, whose
// llhttp parser and its error answers and limits handle it. So this parser is never more lenient.
import http, { type IncomingHttpHeaders } from "node:http";
import { TOKEN } from "./field-syntax.js";

export interface RequestHead {
  method: string;
  url: string;
  /** Names as sent, values trimmed: node's IncomingMessage.rawHeaders. */
  rawHeaders: string[];
  /** Lowercase names: node's IncomingMessage.headers (no name appears twice). */
  headers: IncomingHttpHeaders;
  /** No `Connection: close`. */
  keepAlive: boolean;
  /** Bytes of the head, through its empty line. */
  length: number;
}

/** The head is not complete in the bytes at hand. */
export const NEED_MORE = 0;
/** The request is not one the fast path takes: node:http gets the connection. */
export const HAND_OVER = 1;

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");

/** The methods node's parser knows (it refuses others with 400), less CONNECT, which node:http answers itself. */
const METHODS = new Set(http.METHODS.filter((m) => m !== "CONNECT"));

/**
 * Parses the head at the start of `buf`. `maxBytes`: heads longer than this go to node:http (which
 * answers 431 over its own limit); `maxFields`: likewise for the field count.
 */
export function parseRequestHead(buf: Buffer, maxBytes: number, maxFields: number): RequestHead | typeof NEED_MORE | typeof HAND_OVER {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return buf.length > maxBytes ? HAND_OVER : NEED_MORE;
  if (end + 4 > maxBytes) return HAND_OVER;
  const s = buf.toString("latin1", 0, end);
  // Request line: method SP origin-form SP "HTTP/1.1".
  const sp1 = s.indexOf(" ");
  if (sp1 <= 0 || !METHODS.has(s.slice(0, sp1))) return HAND_OVER;
  let lineEnd = s.indexOf("\r\n");
  if (lineEnd < 0) lineEnd = s.length;
  const sp2 = lineEnd - 9;
  if (sp2 <= sp1 + 1 || s.charCodeAt(sp2) !== 32 || s.slice(sp2 + 1, lineEnd) !== "HTTP/1.1") return HAND_OVER;
  if (s.charCodeAt(sp1 + 1) !== 47 /* / */) return HAND_OVER;
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127) return HAND_OVER;
  }
  const rawHeaders: string[] = [];
  const headers: IncomingHttpHeaders = {};
  let keepAlive = true;
  let hasHost = false;
  let pos = lineEnd + 2;
  while (pos < s.length) {
    let eol = s.indexOf("\r\n", pos);
    if (eol < 0) eol = s.length;
    const colon = s.indexOf(":", pos);
    if (colon < 0 || colon > eol) return HAND_OVER;
    const name = s.slice(pos, colon);
    // A name that is not a token covers obs-fold and space before ':'.
    if (!TOKEN.test(name)) return HAND_OVER;
    let v0 = colon + 1;
    let v1 = eol;
    while (v0 < v1 && (s.charCodeAt(v0) === 32 || s.charCodeAt(v0) === 9)) v0++;
    while (v1 > v0 && (s.charCodeAt(v1 - 1) === 32 || s.charCodeAt(v1 - 1) === 9)) v1--;
    for (let i = v0; i < v1; i++) {
      const c = s.charCodeAt(i);
      // Field values: HTAB, visible ASCII, SP, obs-text. Any other control byte (a bare CR or LF
      // included) is for the strict parser to judge.
      if ((c < 32 && c !== 9) || c === 127) return HAND_OVER;
    }
    const value = s.slice(v0, v1);
    const lower = name.toLowerCase();
    // A repeated field is combined by node's rules, which differ per field; "__proto__" must not
    // reach an object's prototype.
    if (headers[lower] !== undefined || lower === "__proto__") return HAND_OVER;
    switch (lower) {
      case "host":
        hasHost = true;
        break;
      case "content-length":
        if (value !== "0") return HAND_OVER;
        break;
      case "transfer-encoding":
      case "upgrade":
      case "expect":
      case "http2-settings":
        return HAND_OVER;
      case "connection": {
        for (const t of value.toLowerCase().split(",")) {
          const token = t.trim();
          if (token === "upgrade") return HAND_OVER;
          if (token === "close") keepAlive = false;
        }
        break;
      }
    }
    headers[lower] = value;
    rawHeaders.push(name, value);
    if (rawHeaders.length > 2 * maxFields) return HAND_OVER;
    pos = eol + 2;
  }
  // HTTP/1.1 requires Host: node:http answers its absence.
  if (!hasHost) return HAND_OVER;
  return { method: s.slice(0, sp1), url: s.slice(sp1 + 1, sp2), rawHeaders, headers, keepAlive, length: end + 4 };
}
