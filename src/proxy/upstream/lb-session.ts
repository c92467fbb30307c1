// Session persistence (Gateway API sessionPersistence, cookie or header) and the cookie a
// consistent-hash policy hands out: stamps put on responses so a client's next requests reach the
// same endpoint. A session token names the endpoint by a hash of its address (stable across
// snapshots, workers and restarts) and, when the session has timeouts, when it began and was last
// used (seconds, base 36). Tokens are not secret: they only steer load balancing.
import type { IrHashInput, IrSessionPersistence } from "../../ir/types.js";
import { cookieValue, generatedCookie, hashString, type HashSource } from "./lb-hash.js";

export interface ResponseStamp {
  /** Appends response headers (name, value pairs) for a response from endpoint `index`. */
  stamp(headers: string[], index: number, req: HashSource): void;
}

/** The token id of an endpoint: 16 hex digits from its address. */
export function endpointId(label: string): string {
  return hashString(label, 0x1b873593).toString(16).padStart(8, "0") + hashString(label, 0x27d4eb2f).toString(16).padStart(8, "0");
}

interface Token {
  index: number;
  created: number;
  /** Still valid now (not past its absolute or idle timeout). */
  live: boolean;
}

export class StickySession implements ResponseStamp {
  private readonly byId = new Map<string, number>();
  private readonly ids: string[];
  private readonly headerName: string;

  constructor(
    private readonly sp: IrSessionPersistence,
    labels: readonly string[],
  ) {
    this.ids = labels.map(endpointId);
    this.ids.forEach((id, i) => {
      if (!this.byId.has(id)) this.byId.set(id, i);
    });
    this.headerName = sp.name.toLowerCase();
  }

  private value(req: HashSource): string | null {
    if (this.sp.type === "Cookie") return cookieValue(req.headers, this.sp.name);
    const v = req.headers[this.headerName];
    return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
  }

  private parse(req: HashSource): Token | null {
    const v = this.value(req);
    if (v === null || v.length < 16) return null;
    const index = this.byId.get(v.slice(0, 16));
    if (index === undefined) return null;
    const timed = this.sp.absoluteTimeoutMs !== undefined || this.sp.idleTimeoutMs !== undefined;
    if (!timed) return { index, created: 0, live: true };
    const parts = v.slice(17).split(".");
    const created = parseInt(parts[0] ?? "", 36) * 1000;
    const last = parseInt(parts[1] ?? "", 36) * 1000;
    if (!Number.isFinite(created) || !Number.isFinite(last)) return null;
    const now = Date.now();
    const abs = this.sp.absoluteTimeoutMs;
    const idle = this.sp.idleTimeoutMs;
    const live = (abs === undefined || now - created < abs) && (idle === undefined || now - last < idle);
    return { index, created, live };
  }

  /** The endpoint index a live session of the request names, or -1. */
  lookup(req: HashSource): number {
    const t = this.parse(req);
    return t !== null && t.live ? t.index : -1;
  }

  stamp(headers: string[], index: number, req: HashSource): void {
    const t = this.parse(req);
    const same = t !== null && t.live && t.index === index;
    const timed = this.sp.absoluteTimeoutMs !== undefined || this.sp.idleTimeoutMs !== undefined;
    // A live session for this endpoint needs a new token only to move its idle deadline.
    if (same && this.sp.idleTimeoutMs === undefined) return;
    const now = Date.now();
    const created = same ? t.created : now;
    let token = this.ids[index]!;
    if (timed) token += `.${Math.floor(created / 1000).toString(36)}.${Math.floor(now / 1000).toString(36)}`;
    if (this.sp.type === "Header") {
      headers.push(this.headerName, token);
      return;
    }
    let cookie = `${this.sp.name}=${token}; Path=${this.sp.path ?? "/"}; HttpOnly`;
    const abs = this.sp.absoluteTimeoutMs;
    if (this.sp.permanent && abs !== undefined) cookie += `; Max-Age=${Math.max(0, Math.ceil((created + abs - now) / 1000))}`;
    headers.push("set-cookie", cookie);
  }
}

/** A consistent-hash Cookie input with a TTL: the gateway sets the cookie it hashed when it was missing. */
export class HashCookieStamp implements ResponseStamp {
  private readonly suffix: string;
  constructor(private readonly on: Extract<IrHashInput, { type: "Cookie" }>) {
    let s = `; Max-Age=${Math.ceil((on.ttlMs ?? 0) / 1000)}`;
    const attrs = on.attributes ?? [];
    if (!attrs.some((a) => a.name.toLowerCase() === "path")) s += "; Path=/";
    for (const a of attrs) s += a.value === "" ? `; ${a.name}` : `; ${a.name}=${a.value}`;
    this.suffix = s;
  }

  stamp(headers: string[], _index: number, req: HashSource): void {
    if (cookieValue(req.headers, this.on.name) !== null) return;
    headers.push("set-cookie", `${this.on.name}=${generatedCookie(req)}${this.suffix}`);
  }
}
