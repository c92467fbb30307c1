// API key authentication: the key is looked for in the configured headers, query parameters and
// cookies (in that order); a known key identifies its client, whose id can be forwarded to the
// backend. With sanitize, the key itself never reaches the backend.
import { createHash } from "node:crypto";
import type { IrApiKeyAuth } from "../../ir/types.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { cookieJar } from "../headers.js";

const MISSING: GuardReply = { status: 401, body: "API key required\n", headers: ["www-authenticate", 'API-Key realm="sluice"'] };
const INVALID: GuardReply = { status: 401, body: "invalid API key\n", headers: ["www-authenticate", 'API-Key realm="sluice"'] };

/** Keys are compared by their hash, so lookup time does not depend on how much of a key matches. */
function digest(key: string): string {
  return createHash("sha256").update(key).digest("base64");
}

class ApiKeyGuard implements RequestGuard {
  readonly name = "api-key";
  private readonly clients: Map<string, string>;

  constructor(private readonly cfg: IrApiKeyAuth) {
    this.clients = new Map(cfg.credentials.map((c) => [digest(c.key), c.clientId]));
  }

  check(g: GuardRequest): GuardReply | null {
    const found = this.find(g);
    if (found === null) return MISSING;
    const client = this.clients.get(digest(found.key));
    if (client === undefined) return INVALID;
    g.principal.clientId = client;
    if (this.cfg.forwardClientIdHeader) g.setUpstreamHeader(this.cfg.forwardClientIdHeader, client);
    if (this.cfg.sanitize) this.strip(g, found);
    return null;
  }

  private find(g: GuardRequest): { key: string; from: "header" | "param" | "cookie"; name: string } | null {
    const x = this.cfg.extractFrom;
    for (const name of x.headers) {
      const v = g.headers[name];
      const s = Array.isArray(v) ? v[0] : v;
      if (typeof s === "string" && s.length > 0) return { key: s, from: "header", name };
    }
    if (x.params.length > 0 && g.query.length > 0) {
      const q = new URLSearchParams(g.query);
      for (const name of x.params) {
        const v = q.get(name);
        if (v) return { key: v, from: "param", name };
      }
    }
    if (x.cookies.length > 0 && typeof g.headers.cookie === "string") {
      const jar = cookieJar(g.headers.cookie);
      for (const name of x.cookies) {
        const v = jar.get(name);
        if (v) return { key: v, from: "cookie", name };
      }
    }
    return null;
  }

  private strip(g: GuardRequest, found: { from: "header" | "param" | "cookie"; name: string }): void {
    if (found.from === "header") g.removeUpstreamHeader(found.name);
    else if (found.from === "param") {
      const q = new URLSearchParams(g.query);
      q.delete(found.name);
      g.replaceUpstreamQuery(q.toString());
    } else {
      const rest = (g.headers.cookie as string)
        .split(";")
        .map((c) => c.trim())
        .filter((c) => c.length > 0 && c.slice(0, c.indexOf("=")).trim() !== found.name);
      if (rest.length > 0) g.setUpstreamHeader("cookie", rest.join("; "));
      else g.removeUpstreamHeader("cookie");
    }
  }
}

registerGuardFactory({
  name: "api-key",
  order: 46,
  build(route) {
    const k = route.security?.apiKeyAuth;
    return k ? new ApiKeyGuard(k) : null;
  },
});
