// BackendTrafficPolicy rateLimit -> route.rateLimit. Each route rule gets its own counters (as in
// Envoy Gateway, a Gateway-wide policy limits each route separately), keyed by the policy, the
// rule's index and the route rule, so an edit elsewhere in the config keeps the counts.
import type { IrRateLimit, IrRateLimitCondition, IrRateLimitRule } from "../../ir/types.js";
import { clientIpFor } from "./client-ip.js";
import { registerApplier } from "./registry.js";

interface Selector {
  headers?: { name: string; type?: "Exact" | "RegularExpression" | "Distinct"; value?: string; invert?: boolean }[];
  sourceCIDR?: { type?: "Exact" | "Distinct"; value: string };
  methods?: { value: string; invert?: boolean }[];
  path?: { type?: "Exact" | "PathPrefix" | "RegularExpression"; value: string; invert?: boolean };
  jwtClaims?: { name: string; type?: "Exact" | "Distinct"; value?: string }[];
}
interface RuleSpec {
  clientSelectors?: Selector[];
  limit: { requests: number; unit: IrRateLimitRule["unit"] };
  shadowMode?: boolean;
}
interface RateLimitSpec {
  type: "Local" | "Global";
  local?: { rules: RuleSpec[] };
  global?: { rules: RuleSpec[]; failClosed?: boolean };
}

function conditionsOf(selectors: Selector[] | undefined): IrRateLimitCondition[] {
  const out: IrRateLimitCondition[] = [];
  for (const s of selectors ?? []) {
    for (const h of s.headers ?? []) {
      const c: IrRateLimitCondition = { kind: "header", name: h.name.toLowerCase(), match: h.type ?? "Exact", invert: h.invert === true };
      if (h.value !== undefined) c.value = h.value;
      out.push(c);
    }
    if (s.sourceCIDR) out.push({ kind: "sourceCIDR", cidr: s.sourceCIDR.value, distinct: s.sourceCIDR.type === "Distinct" });
    if (s.methods) {
      // EG semantics: a request matches when its method is one of the non-inverted values and none of the inverted ones.
      const plain = s.methods.filter((m) => !m.invert).map((m) => m.value);
      const inverted = s.methods.filter((m) => m.invert).map((m) => m.value);
      if (plain.length) out.push({ kind: "method", values: plain, invert: false });
      if (inverted.length) out.push({ kind: "method", values: inverted, invert: true });
    }
    if (s.path) out.push({ kind: "path", match: s.path.type ?? "PathPrefix", value: s.path.value, invert: s.path.invert === true });
    for (const j of s.jwtClaims ?? []) {
      const c: IrRateLimitCondition = { kind: "jwtClaim", name: j.name, match: j.type ?? "Exact" };
      if (j.value !== undefined) c.value = j.value;
      out.push(c);
    }
  }
  return out;
}

registerApplier({
  kind: "BackendTrafficPolicy",
  sections: ["rateLimit"],
  route(_ctx, policies, route, scope) {
    const s = policies.sections("BackendTrafficPolicy", scope).get("rateLimit");
    if (!s) return;
    const spec = s.value as RateLimitSpec;
    const global = spec.type === "Global";
    const rules = (global ? spec.global?.rules : spec.local?.rules) ?? [];
    const where = `${route.ref.kind.toLowerCase()}/${route.ref.namespace}/${route.ref.name}/rule/${route.ref.rule}`;
    const p = s.policy;
    const out: IrRateLimit = {
      rules: rules.map((r, i) => ({
        key: `${p.namespace}/${p.name}/${global ? "global" : "local"}/${i}@${where}`,
        name: `${p.namespace}/${p.name}/${i}`,
        global,
        failClosed: global && spec.global?.failClosed === true,
        requests: r.limit.requests,
        unit: r.limit.unit,
        shadow: r.shadowMode === true,
        conditions: conditionsOf(r.clientSelectors),
      })),
    };
    const clientIp = clientIpFor(policies, scope);
    if (clientIp) out.clientIp = clientIp;
    if (out.rules.length > 0) route.rateLimit = out;
  },
});
