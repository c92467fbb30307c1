// Rate limits on a route: every rule whose conditions hold for the request takes one request from
// its counter (a Distinct condition adds the request's value to the counter's key, so each client,
// header value or claim value gets its own); the first rule out of requests answers 429 with
// RateLimit-Policy / RateLimit (IETF draft) and Retry-After. Shadow rules only count.
import { BlockList, isIP } from "node:net";
import type { IrRateLimit, IrRateLimitCondition, IrRateLimitRule } from "../../ir/types.js";
import { BatchedCounter, type Pending } from "../../observe/proxy-metrics.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { LeaseTable, type LimitSpec, workerLeases } from "../rate-limit/leases.js";
import { UNIT_MS } from "../rate-limit/messages.js";
import { clientAddress } from "./client-address.js";
import { compileMatch, pathMatches } from "../router-match.js";

let decisions: BatchedCounter | null = null;
function metric(): BatchedCounter {
  return (decisions ??= new BatchedCounter("sluice_ratelimit_requests_total", "Requests checked by rate-limit rules, by result (allowed, limited, shadow_limited).", ["route", "rule", "result"]));
}

/** Returns the counter-key suffix for the request, or null when the condition does not hold. */
type Condition = (g: GuardRequest, ip: string) => string | null;

function compileCondition(c: IrRateLimitCondition): Condition {
  switch (c.kind) {
    case "header": {
      const name = c.name;
      if (c.match === "Distinct") return (g) => (typeof g.headers[name] === "string" ? `h:${g.headers[name] as string}` : null);
      const re = c.match === "RegularExpression" ? new RegExp(`^(?:${c.value ?? ""})$`) : null;
      const want = c.value ?? "";
      return (g) => {
        const v = g.headers[name];
        const s = Array.isArray(v) ? v.join(",") : v;
        const hit = s !== undefined && (re ? re.test(s) : s === want);
        return hit !== c.invert ? "" : null;
      };
    }
    case "sourceCIDR": {
      const [addr, bits] = c.cidr.split("/");
      const family = isIP(addr!) === 6 ? "ipv6" : "ipv4";
      const list = new BlockList();
      list.addSubnet(addr!, Number(bits), family);
      return (_g, ip) => {
        const f = isIP(ip);
        if (f === 0 || !list.check(ip, f === 6 ? "ipv6" : "ipv4")) return null;
        return c.distinct ? `ip:${ip}` : "";
      };
    }
    case "method": {
      const set = new Set(c.values);
      return (g) => (set.has(g.method) !== c.invert ? "" : null);
    }
    case "path": {
      // The router's own path matcher: a selector matches the requests an HTTPRoute path match
      // with the same type and value would (a PathPrefix's trailing slash is ignored, as the spec says).
      const m = compileMatch({ path: { type: c.match, value: c.value }, headers: [], queryParams: [] });
      return (g) => (pathMatches(m, g.path) !== c.invert ? "" : null);
    }
    case "jwtClaim": {
      const name = c.name;
      return (g) => {
        const v = g.principal.jwt?.claims[name] ?? g.principal.oidc?.claims[name];
        if (typeof v !== "string" && typeof v !== "number") return null;
        if (c.match === "Distinct") return `c:${String(v)}`;
        return String(v) === c.value ? "" : null;
      };
    }
  }
}

interface Rule {
  ir: IrRateLimitRule;
  spec: LimitSpec;
  conditions: Condition[];
  policyHeader: string;
  allowed: Pending;
  limited: Pending;
  shadowLimited: Pending;
}

class RateLimitGuard implements RequestGuard {
  readonly name = "rate-limit";
  private readonly hops: number;

  constructor(
    private readonly rules: Rule[],
    private readonly leases: LeaseTable,
    cfg: IrRateLimit,
  ) {
    this.hops = cfg.clientIp?.xffTrustedHops ?? 0;
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    const ip = clientAddress(g, this.hops);
    let waiting: Promise<GuardReply | null>[] | null = null;
    for (const r of this.rules) {
      let key = r.ir.key;
      let applies = true;
      for (const c of r.conditions) {
        const part = c(g, ip);
        if (part === null) {
          applies = false;
          break;
        }
        if (part !== "") key += `\u0001${part}`;
      }
      if (!applies) continue;
      const t = this.leases.take(key, r.spec);
      if (t === true) r.allowed.inc();
      else if (t === false) {
        const reply = this.refuse(r);
        if (reply !== null) return reply;
      } else (waiting ??= []).push(t.then((ok) => (ok ? (r.allowed.inc(), null) : this.refuse(r))));
    }
    if (waiting === null) return null;
    return Promise.all(waiting).then((replies) => replies.find((x) => x !== null) ?? null);
  }

  private refuse(r: Rule): GuardReply | null {
    if (r.ir.shadow) {
      r.shadowLimited.inc();
      return null;
    }
    r.limited.inc();
    const left = LeaseTable.secondsLeft(r.spec);
    return {
      status: 429,
      body: "rate limit exceeded\n",
      headers: ["ratelimit-policy", r.policyHeader, "ratelimit", `"${r.ir.name}";r=0;t=${left}`, "retry-after", String(left)],
    };
  }
}

registerGuardFactory({
  name: "rate-limit",
  order: 80,
  build(route) {
    const cfg = route.rateLimit;
    if (!cfg) return null;
    const m = metric();
    const rules: Rule[] = cfg.rules.map((ir) => {
      const windowMs = UNIT_MS[ir.unit];
      const labels = (result: string) => ({ route: route.name, rule: ir.name, result });
      return {
        ir,
        spec: { limit: ir.requests, windowMs, global: ir.global, failClosed: ir.failClosed },
        conditions: ir.conditions.map(compileCondition),
        policyHeader: `"${ir.name}";q=${ir.requests};w=${windowMs / 1000}`,
        allowed: m.pending(labels("allowed")),
        limited: m.pending(labels("limited")),
        shadowLimited: m.pending(labels("shadow_limited")),
      };
    });
    return new RateLimitGuard(rules, workerLeases(), cfg);
  },
});
