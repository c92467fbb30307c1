// The OIDC guard's cookies: AES-256-GCM sealed JSON, the cookie's name bound in as associated data
// (a login-state cookie cannot be replayed as a session and vice versa), split over several
// cookies when a session is larger than a browser keeps in one.
//
// The key is derived with HKDF-SHA256 from the OIDC client secret, salted with the issuer and the
// client id. Every worker of a gateway, and every gateway of a fleet given the same configuration,
// derives the same key, so any of them opens the cookies another one set; rotating the client
// secret ends every session (users log in again).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "v1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Browsers keep at least 4096 bytes per cookie, name and attributes included. */
const MAX_CHUNK = 3800;
/** More is not a session we wrote: refuse instead of reading on. */
const MAX_CHUNKS = 8;

export function deriveKey(clientSecret: string, issuer: string, clientId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", clientSecret, `sluice oidc cookie\n${issuer}\n${clientId}`, "aes-256-gcm session", 32));
}

export function seal(key: Buffer, name: string, payload: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(name));
  const ct = Buffer.concat([c.update(JSON.stringify(payload), "utf8"), c.final()]);
  return VERSION + Buffer.concat([iv, ct, c.getAuthTag()]).toString("base64url");
}

/** The payload, or null when the value was not sealed with this key for this name (or is damaged). */
export function unseal<T>(key: Buffer, name: string, value: string): T | null {
  if (!value.startsWith(VERSION)) return null;
  const raw = Buffer.from(value.slice(VERSION.length), "base64url");
  if (raw.length < IV_BYTES + TAG_BYTES + 2) return null;
  try {
    const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    d.setAAD(Buffer.from(name));
    d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const pt = Buffer.concat([d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), d.final()]);
    return JSON.parse(pt.toString("utf8")) as T;
  } catch {
    return null;
  }
}

export interface CookieAttrs {
  path: string;
  secure: boolean;
  sameSite: "Lax" | "Strict" | "None";
  domain?: string;
}

export function setCookie(name: string, value: string, maxAgeSeconds: number, a: CookieAttrs): string {
  let s = `${name}=${value}; Path=${a.path}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; SameSite=${a.sameSite}`;
  // SameSite=None is only honoured on Secure cookies.
  if (a.secure || a.sameSite === "None") s += "; Secure";
  if (a.domain !== undefined) s += `; Domain=${a.domain}`;
  return s;
}

/** A value stored under `name` (and "<name>.1", "<name>.2" ... when long); null when absent or incomplete. */
export function readChunked(jar: Map<string, string>, name: string): string | null {
  const head = jar.get(name);
  if (head === undefined) return null;
  const m = /^c([2-9])\./.exec(head);
  if (m === null) return head;
  const n = Number(m[1]);
  let out = head.slice(m[0].length);
  for (let i = 1; i < n; i++) {
    const part = jar.get(`${name}.${i}`);
    if (part === undefined) return null;
    out += part;
  }
  return out;
}

/**
 * Set-Cookie values storing `value` under `name`, split when long, and clearing continuation
 * cookies a longer earlier value left in the jar. Null when the value is too large to store.
 */
export function writeChunked(jar: Map<string, string>, name: string, value: string, maxAge: number, a: CookieAttrs): string[] | null {
  const n = Math.ceil(value.length / MAX_CHUNK);
  if (n > MAX_CHUNKS) return null;
  const out: string[] = [];
  if (n <= 1) out.push(setCookie(name, value, maxAge, a));
  else {
    out.push(setCookie(name, `c${n}.${value.slice(0, MAX_CHUNK)}`, maxAge, a));
    for (let i = 1; i < n; i++) out.push(setCookie(`${name}.${i}`, value.slice(i * MAX_CHUNK, (i + 1) * MAX_CHUNK), maxAge, a));
  }
  for (let i = Math.max(1, n); i < MAX_CHUNKS; i++) if (jar.has(`${name}.${i}`)) out.push(setCookie(`${name}.${i}`, "", 0, a));
  return out;
}

/** Set-Cookie values removing `name` and its continuation cookies present in the jar. */
export function clearChunked(jar: Map<string, string>, name: string, a: CookieAttrs): string[] {
  const out = [setCookie(name, "", 0, a)];
  for (let i = 1; i < MAX_CHUNKS; i++) if (jar.has(`${name}.${i}`)) out.push(setCookie(`${name}.${i}`, "", 0, a));
  return out;
}
