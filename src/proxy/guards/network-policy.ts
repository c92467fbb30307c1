// L7 network policy (CiliumNetworkPolicy toPorts[].rules.http), enforced by the proxy: on a listener
// port that has HTTP rules, the L3/L4 rule that admitted the client's address (the same compiled
// decision the kernel and the accept-time check make) names the HTTP rules a request must match;
// one that matches none gets 403, as Cilium's proxy answers. A rule without HTTP rules admits
// every request (policy-model.ts orders those first, so they win over overlapping HTTP rules).
import type { IrListener, IrPolicyHttpRule, IrRoute } from "../../ir/types.js";
import { PROTO_TCP } from "../../ebpf/policy-eval.js";
import { BatchedCounter, Pending } from "../../observe/proxy-metrics.js";
import { stagedNetworkPolicy } from "../conn-policy.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";

interface CompiledHttpRule {
  method: RegExp | null;
  path: RegExp | null;
  host: RegExp | null;
  headers: Array<{ name: string; value?: string }>;
}

interface PortRules {
  /** Counter slot of an L3/L4 rule -> its HTTP rules and counters. */
  bySlot: Map<number, { rule: string; http: CompiledHttpRule[]; allowed: Pending; denied: Pending }>;
  decide: (ip: string, port: number) => number;
}

const DENIED: GuardReply = { status: 403, body: "Access denied\n" };

let requests: BatchedCounter | null = null;
/** Compiled once per staged policy and port: every route of a listener shares it. */
const cache = new WeakMap<object, Map<number, PortRules | null>>();

function anchored(re: string | undefined): RegExp | null {
  return re === undefined ? null : new RegExp(`^(?:${re})$`);
}

function compileRule(h: IrPolicyHttpRule): CompiledHttpRule {
  return { method: anchored(h.method), path: anchored(h.path), host: anchored(h.host), headers: h.headers ?? [] };
}

function matches(r: CompiledHttpRule, g: GuardRequest): boolean {
  if (r.method !== null && !r.method.test(g.method)) return false;
  if (r.path !== null && !r.path.test(g.query ? `${g.path}?${g.query}` : g.path)) return false;
  if (r.host !== null && !r.host.test(g.host)) return false;
  for (const h of r.headers) {
    const v = g.headers[h.name];
    if (v === undefined) return false;
    if (h.value !== undefined && (Array.isArray(v) ? !v.includes(h.value) : v !== h.value)) return false;
  }
  return true;
}

function portRules(port: number): PortRules | null {
  const staged = stagedNetworkPolicy();
  if (staged === null) return null;
  let perPort = cache.get(staged);
  if (!perPort) {
    perPort = new Map();
    cache.set(staged, perPort);
  }
  const hit = perPort.get(port);
  if (hit !== undefined) return hit;
  const { policy, evaluator } = staged;
  const onPort = policy.rules.filter((r) => r.http && r.ports.some((p) => (p.protocol === "TCP" || p.protocol === "ANY") && port >= p.port && port <= (p.endPort ?? p.port)));
  let out: PortRules | null = null;
  if (onPort.length > 0) {
    requests ??= new BatchedCounter("sluice_policy_http_requests_total", "Requests decided by the L7 (HTTP) rules of the network policy, by rule and verdict.", ["rule", "verdict"]);
    const q = requests.queue;
    const slots = new Map([...evaluator.compiled.slots].map(([id, slot]) => [id, slot]));
    out = { bySlot: new Map(), decide: (ip, p) => evaluator.decide(ip, PROTO_TCP, p).slot };
    for (const r of onPort) {
      const slot = slots.get(r.id);
      if (slot === undefined) continue;
      out.bySlot.set(slot, {
        rule: r.id,
        http: r.http!.map(compileRule),
        allowed: new Pending({ rule: r.id, verdict: "allow" }, q),
        denied: new Pending({ rule: r.id, verdict: "deny" }, q),
      });
    }
  }
  perPort.set(port, out);
  return out;
}

class HttpPolicyGuard implements RequestGuard {
  readonly name = "network-policy-http";
  constructor(
    private readonly rules: PortRules,
    private readonly port: number,
  ) {}

  check(g: GuardRequest): GuardReply | null {
    const r = this.rules.bySlot.get(this.rules.decide(g.clientIp, this.port));
    if (r === undefined) return null; // admitted by a rule without HTTP rules (or no rule at all)
    for (const h of r.http) {
      if (matches(h, g)) {
        r.allowed.inc();
        return null;
      }
    }
    r.denied.inc();
    return DENIED;
  }
}

registerGuardFactory({
  name: "network-policy-http",
  order: 25,
  build(_route: IrRoute, listener: IrListener): RequestGuard | null {
    const rules = portRules(listener.port);
    return rules === null ? null : new HttpPolicyGuard(rules, listener.port);
  },
});
