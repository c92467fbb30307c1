// Status checks for TCPRoute / TLSRoute / UDPRoute parents (the HTTPRoute helpers name their kind).
import type { Cond, Items, NN } from "./status.js";
import { find, hasCondition, latestGeneration } from "./status.js";

export function l4RouteCondition(items: Items, kind: "TCPRoute" | "TLSRoute" | "UDPRoute", route: NN, gw: NN, want: Cond): string | null {
  const r = find(items, kind, route);
  if (!r) return `${kind} ${route.namespace}/${route.name} not in /status`;
  const parents = r.status?.parents ?? [];
  for (const p of parents) {
    const d = latestGeneration(r, p.conditions);
    if (d) return d;
  }
  const mine = parents.filter((p) => p.parentRef.name === gw.name && (p.parentRef.namespace === undefined || p.parentRef.namespace === gw.namespace));
  if (mine.some((p) => hasCondition(p.conditions, want) === null)) return null;
  return `${kind} ${route.name}: no parent ${gw.name} with ${want.type}=${want.status ?? "*"}/${want.reason ?? "*"} (parents: ${JSON.stringify(parents)})`;
}
