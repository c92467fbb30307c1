// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy -> the IR's networkPolicy section + status.
//
// Which policies apply, and to what (our definition, documented in examples/network-policy):
// * A Gateway of ours is an endpoint. A spec's endpointSelector is matched against the Gateway's
//   metadata.labels (plus io.kubernetes.pod.namespace = its namespace, as Cilium labels pods);
//   `{}` selects every Gateway. A CiliumNetworkPolicy only selects Gateways in its own namespace;
//   the clusterwide kind selects in every namespace.
// * The endpoint's ports are its programmed listeners' ports (HTTP, HTTPS, TLS, TCP -> TCP; UDP ->
//   UDP). Every rule is scoped to the ports of the Gateways its spec selects, and default deny (a
//   spec with ingress rules, or enableDefaultDeny.ingress) applies to those ports only: the rest of
//   the host's traffic on an attached interface is not the gateway's to police.
// Pure and deterministic like the rest of the translator.
import type { IrNetworkPolicy, IrPolicyPort, IrPolicyRule } from "../ir/types.js";
import type { Condition, K8sObject, StatusEntry } from "../resources/types.js";
import { cnpToPolicy, isCiliumNetworkPolicy, selectsEndpoint, type CnpIssue, type CnpRule } from "../ebpf/cnp.js";
import { condition, sortConditions } from "./conditions.js";
import type { Context } from "./context.js";
import type { GatewayState } from "./gateways.js";
import { cmpStr } from "./util.js";

const CILIUM_GROUP = "cilium.io";
const NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

interface GatewayEndpoint {
  key: string;
  namespace: string;
  labels: Record<string, string>;
  ports: IrPolicyPort[];
}

export interface NetworkPolicyResult {
  policy?: IrNetworkPolicy;
  statuses: StatusEntry[];
}

export function translateNetworkPolicies(ctx: Context, objects: K8sObject[], gateways: GatewayState[]): NetworkPolicyResult {
  const policies = uniquePolicies(objects);
  if (policies.length === 0) return { statuses: [] };
  const endpoints = gateways
    .filter((g) => g.rejected === null)
    .map(
      (g): GatewayEndpoint => ({
        key: `${g.item.namespace}/${g.item.name}`,
        namespace: g.item.namespace,
        labels: { ...(g.item.obj.metadata.labels ?? {}), [NAMESPACE_LABEL]: g.item.namespace },
        ports: sortPorts(
          g.listeners
            .filter((l) => l.programmed.ok)
            .map((l): IrPolicyPort => ({ protocol: l.protocol === "UDP" ? "UDP" : "TCP", port: l.port })),
        ),
      }),
    )
    .sort((a, b) => cmpStr(a.key, b.key));

  const rules: IrPolicyRule[] = [];
  const denyPorts: IrPolicyPort[] = [];
  const statuses: StatusEntry[] = [];
  for (const obj of policies) {
    const ref = { group: CILIUM_GROUP, kind: obj.kind, name: obj.metadata.name, ...(obj.kind === "CiliumNetworkPolicy" ? { namespace: obj.metadata.namespace ?? "default" } : {}) };
    const parsed = cnpToPolicy(obj);
    const notEnforced = parsed.issues.filter((i) => i.severity === "warning").map(describe);
    const selected = new Set<string>();
    let enforcedRules = 0;
    let deny = false;
    for (const spec of parsed.specs) {
      if (!spec.selector) continue;
      const chosen = endpoints.filter((e) => (ref.namespace === undefined || e.namespace === ref.namespace) && selectsEndpoint(spec.selector!, e.labels));
      if (chosen.length === 0) continue;
      for (const e of chosen) selected.add(e.key);
      const ports = sortPorts(chosen.flatMap((e) => e.ports));
      if (spec.defaultDeny && ports.length > 0) {
        denyPorts.push(...ports);
        deny = true;
      }
      for (const r of spec.rules) {
        const scoped = scopePorts(r, ports);
        if (scoped.length === 0) {
          const msg = `matches none of the selected Gateways' listener ports (${ports.map(portText).join(", ") || "none"}); this rule has no effect`;
          ctx.report("warning", ref, r.field, msg, "toPorts naming a listener port of a selected Gateway");
          notEnforced.push(`${r.field}: ${msg}`);
          continue;
        }
        rules.push({ id: r.id, verdict: r.verdict, from: r.from.map((f) => ({ cidr: f.cidr, ...(f.except ? { except: [...f.except] } : {}) })), ports: scoped, ...(r.http ? { http: r.http } : {}) });
        enforcedRules++;
      }
    }
    statuses.push({ ref, status: policyStatus(obj, [...selected].sort(cmpStr), enforcedRules, deny, notEnforced) });
  }
  if (rules.length === 0 && denyPorts.length === 0) return { statuses };
  return { policy: { rules, defaultDenyPorts: sortPorts(denyPorts) }, statuses };
}

/** Cilium objects in a stable order (kind, then namespace/name); one copy per identity. */
function uniquePolicies(objects: K8sObject[]): K8sObject[] {
  const byKey = new Map<string, K8sObject>();
  for (const o of objects) {
    if (!isCiliumNetworkPolicy(o)) continue;
    const key = `${o.kind}/${o.kind === "CiliumNetworkPolicy" ? (o.metadata.namespace ?? "default") : ""}/${o.metadata.name}`;
    const prev = byKey.get(key);
    // Duplicates are reported by the translator's index; pick one deterministically.
    if (!prev || cmpStr(JSON.stringify(o), JSON.stringify(prev)) < 0) byKey.set(key, o);
  }
  return [...byKey.entries()].sort((a, b) => cmpStr(a[0], b[0])).map(([, o]) => o);
}

/** The rule's ports intersected with the endpoint ports (an L3 rule gets all of them). */
function scopePorts(r: CnpRule, endpointPorts: IrPolicyPort[]): IrPolicyPort[] {
  if (r.ports.length === 0) return endpointPorts;
  return endpointPorts.filter((ep) =>
    r.ports.some((pm) => {
      if (pm.protocol !== "ANY" && pm.protocol !== ep.protocol) return false;
      if (pm.port === 0 && pm.endPort === undefined) return true;
      return ep.port >= pm.port && ep.port <= (pm.endPort ?? pm.port);
    }),
  );
}

function sortPorts(ports: IrPolicyPort[]): IrPolicyPort[] {
  const seen = new Map<string, IrPolicyPort>();
  for (const p of ports) seen.set(portText(p), p);
  return [...seen.values()].sort((a, b) => cmpStr(a.protocol, b.protocol) || a.port - b.port);
}

function portText(p: IrPolicyPort): string {
  return `${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ""}/${p.protocol}`;
}

function describe(i: CnpIssue): string {
  return `${i.field}: ${i.message}`;
}

function policyStatus(obj: K8sObject, selected: string[], enforcedRules: number, deny: boolean, notEnforced: string[]): Record<string, unknown> {
  const gen = obj.metadata.generation;
  const conds: Condition[] = [condition("Accepted", true, "Accepted", "the policy is valid", gen)];
  if (selected.length === 0) {
    conds.push(condition("Enforced", false, "NoGatewaySelected", "no Gateway of this controller matches the endpointSelector; nothing is enforced", gen));
  } else {
    const what = `${enforcedRules} rule(s)${deny ? ", default deny on the selected listener ports" : ""}, on Gateway ${selected.join(", ")}`;
    if (notEnforced.length > 0) conds.push(condition("Enforced", true, "PartiallyEnforced", `${what}; ${notEnforced.length} part(s) not enforced, see notEnforced`, gen));
    else conds.push(condition("Enforced", true, "Enforced", what, gen));
  }
  return { conditions: sortConditions(conds), selectedGateways: selected, ...(notEnforced.length ? { notEnforced } : {}) };
}
