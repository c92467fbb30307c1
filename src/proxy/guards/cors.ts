// CORS at the gateway: preflights (OPTIONS + Access-Control-Request-Method) are answered here and
// never reach the backend; actual requests from an allowed origin get the CORS response headers.
// A preflight from an origin that is not allowed gets 403 without CORS headers, so the browser
// blocks the call and the reason is visible in the response.
import type { IrCors } from "../../ir/types.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";

/** Origins compiled once per snapshot: exact ones in a Set, wildcard ones as anchored regexes. */
export class OriginMatcher {
  private readonly any: boolean;
  private readonly exact: Set<string>;
  private readonly patterns: RegExp[];

  constructor(origins: readonly string[]) {
    this.any = origins.includes("*");
    this.exact = new Set(origins.filter((o) => !o.includes("*")));
    this.patterns = origins
      .filter((o) => o !== "*" && o.includes("*"))
      // "*" stands for one or more host labels: "https://*.bar.com" matches https://a.b.bar.com.
      .map((o) => new RegExp(`^${o.split("*").map(escapeRe).join("[a-z0-9-]+(?:\\.[a-z0-9-]+)*")}$`));
  }

  matches(origin: string): boolean {
    if (this.any) return true;
    const o = origin.toLowerCase();
    if (this.exact.has(o)) return true;
    for (const p of this.patterns) if (p.test(o)) return true;
    return false;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class CorsGuard implements RequestGuard {
  readonly name = "cors";
  private readonly origins: OriginMatcher;
  private readonly anyOrigin: boolean;
  private readonly anyMethod: boolean;
  private readonly anyHeader: boolean;
  private readonly methods: string;
  private readonly allowHeaders: string;
  private readonly expose: string;
  private readonly maxAge: string | null;

  constructor(private readonly c: IrCors) {
    this.origins = new OriginMatcher(c.allowOrigins);
    this.anyOrigin = c.allowOrigins.includes("*");
    this.anyMethod = c.allowMethods.includes("*");
    this.anyHeader = c.allowHeaders.includes("*");
    this.methods = c.allowMethods.filter((m) => m !== "*").join(", ");
    this.allowHeaders = c.allowHeaders.filter((h) => h !== "*").join(", ");
    this.expose = c.exposeHeaders.join(", ");
    this.maxAge = c.maxAgeSeconds !== undefined ? String(c.maxAgeSeconds) : null;
  }

  check(g: GuardRequest): GuardReply | null {
    const origin = g.headers.origin;
    if (typeof origin !== "string") return null; // not a cross-origin request
    const allowed = this.origins.matches(origin);
    const requested = g.method === "OPTIONS" ? g.headers["access-control-request-method"] : undefined;
    if (typeof requested === "string") {
      if (!allowed) return { status: 403, body: `CORS: origin ${origin} is not allowed\n`, headers: ["vary", "origin"] };
      const h = this.originHeaders(origin);
      // With credentials a browser does not accept "*": name what was asked for instead.
      const methods = this.anyMethod ? (this.methods ? `${this.methods}, ${requested.toUpperCase()}` : requested.toUpperCase()) : this.methods;
      if (methods) h.push("access-control-allow-methods", methods);
      const askedHeaders = g.headers["access-control-request-headers"];
      const headers = this.anyHeader && typeof askedHeaders === "string" ? askedHeaders : this.allowHeaders;
      if (headers) h.push("access-control-allow-headers", headers);
      if (this.maxAge !== null) h.push("access-control-max-age", this.maxAge);
      return { status: 204, body: "", headers: h };
    }
    if (allowed) {
      const h = this.originHeaders(origin);
      for (let i = 0; i < h.length; i += 2) g.addResponseHeader(h[i]!, h[i + 1]!);
    }
    return null;
  }

  private originHeaders(origin: string): string[] {
    const h = ["access-control-allow-origin", this.anyOrigin && !this.c.allowCredentials ? "*" : origin];
    if (!this.anyOrigin || this.c.allowCredentials) h.push("vary", "origin");
    if (this.c.allowCredentials) h.push("access-control-allow-credentials", "true");
    if (this.expose) h.push("access-control-expose-headers", this.expose);
    return h;
  }
}

registerGuardFactory({
  name: "cors",
  order: 20,
  build(route) {
    const c = route.filters.cors ?? route.security?.cors;
    return c ? new CorsGuard(c) : null;
  },
});
