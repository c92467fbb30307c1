// BackendTLSPolicy (v1, v1alpha3): TLS from the gateway to a Service (or our Backend) with CA
// validation (caCertificateRefs to ConfigMaps/Secrets with a ca.crt key, or the system's CAs), the
// hostname as SNI and identity, and optional subjectAltNames. One policy per target (and
// sectionName = Service port name): the older policy wins, the others are Conflicted; a policy
// naming a port beats one naming the whole Service. Status per GEP-713: one ancestor entry for
// every Gateway whose routes reach the target, with Accepted and ResolvedRefs.
import type { IrClusterTls, IrFilters, IrL4Backend, IrSubjectAltName } from "../ir/types.js";
import type { Attachment } from "./attachment.js";
import type { Condition, StatusEntry } from "../resources/types.js";
import { loadCaBundle } from "./ca-bundle.js";
import { condition, sortConditions } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { GW_GROUP, SLUICE_GROUP, compareAge, type Item } from "./kinds.js";
import { cmpStr } from "./util.js";

interface LocalRef {
  group?: string;
  kind?: string;
  name: string;
  sectionName?: string;
}

interface PolicySpec {
  targetRefs?: LocalRef[];
  validation?: {
    caCertificateRefs?: LocalRef[];
    wellKnownCACertificates?: string;
    hostname?: string;
    subjectAltNames?: { type?: string; hostname?: string; uri?: string }[];
  };
  options?: Record<string, string>;
}

type PolicyItem = Item<{ spec?: PolicySpec }>;

/** What a policy resolves to, independent of where it is used. */
interface Resolved {
  /** null: usable; else why traffic to its targets must fail. */
  error: string | null;
  tls: IrClusterTls;
  accepted: Condition;
  resolvedRefs: Condition;
}

interface PolicyState {
  item: PolicyItem;
  resolved: Resolved;
  /** Target keys this policy won. */
  won: string[];
  /** Target keys this policy lost to an older policy, with the winner. */
  lost: { key: string; winner: string }[];
}

class BackendTlsIndex {
  readonly policies: PolicyState[] = [];
  /** Target key -> the winning policy. */
  readonly byTarget = new Map<string, PolicyState>();
}

const indexes = new WeakMap<Context, BackendTlsIndex>();

/** "<kind>/<ns>/<name>/<sectionName or ''>" */
function targetKey(kind: string, ns: string, name: string, section: string | undefined): string {
  return `${kind}/${ns}/${name}/${section ?? ""}`;
}

function nameOf(p: PolicyItem): string {
  return `${p.namespace}/${p.name}`;
}

function indexFor(ctx: Context): BackendTlsIndex {
  let idx = indexes.get(ctx);
  if (idx) return idx;
  idx = new BackendTlsIndex();
  indexes.set(ctx, idx);
  const items: PolicyItem[] = [];
  for (const obj of ctx.index.backendTlsPolicies) {
    items.push({
      obj,
      typed: obj as unknown as { spec?: PolicySpec },
      namespace: obj.metadata.namespace || "default",
      name: obj.metadata.name,
      generation: obj.metadata.generation,
      created: obj.metadata.creationTimestamp ?? "",
    });
  }
  items.sort(compareAge);
  for (const item of items) {
    const st: PolicyState = { item, resolved: resolvePolicy(ctx, item), won: [], lost: [] };
    idx.policies.push(st);
    const seen = new Set<string>();
    (item.typed.spec?.targetRefs ?? []).forEach((t, i) => {
      const group = t.group ?? "";
      const kind = t.kind ?? "Service";
      const ok = (group === "" && kind === "Service") || (group === SLUICE_GROUP && kind === "Backend");
      if (!ok) {
        ctx.report("error", refOfItem(item), `spec.targetRefs[${i}]`, `target ${group ? group + "/" : ""}${kind} is not supported; this target is ignored`, `a Service (group "") or a Backend (group ${SLUICE_GROUP})`);
        return;
      }
      const key = targetKey(kind, item.namespace, t.name, t.sectionName);
      if (seen.has(key)) return;
      seen.add(key);
      const prev = idx.byTarget.get(key);
      if (prev) {
        st.lost.push({ key, winner: nameOf(prev.item) });
        ctx.report("error", refOfItem(item), `spec.targetRefs[${i}]`, `BackendTLSPolicy ${nameOf(prev.item)} (older) already targets ${kind} ${t.name}${t.sectionName ? ` port ${t.sectionName}` : ""}; this policy is not applied there`, "one BackendTLSPolicy per target and sectionName");
      } else {
        idx.byTarget.set(key, st);
        st.won.push(key);
      }
    });
  }
  return idx;
}

/** BackendTLSPolicy CA references: kind is required, a Secret's data is read before stringData. */
const BACKEND_CA = { defaultKind: "", kindReason: "InvalidKind", dataFirst: true, parserDetail: true } as const;

function resolvePolicy(ctx: Context, p: PolicyItem): Resolved {
  const gen = p.generation;
  const v = p.typed.spec?.validation ?? {};
  const hostname = (v.hostname ?? "").toLowerCase();
  const tls: IrClusterTls = { servername: hostname };
  const sans: IrSubjectAltName[] = [];
  for (const s of v.subjectAltNames ?? []) {
    if (s.type === "Hostname" && s.hostname) sans.push({ type: "Hostname", value: s.hostname.toLowerCase() });
    else if (s.type === "URI" && s.uri) sans.push({ type: "URI", value: s.uri });
  }
  if (sans.length > 0) tls.subjectAltNames = sans;
  const options = p.typed.spec?.options;
  if (options && Object.keys(options).length > 0) {
    ctx.report("warning", refOfItem(p), "spec.options", "options are not supported and are ignored", "no options");
  }

  const refs = v.caCertificateRefs ?? [];
  const pems: string[] = [];
  const problems: { reason: string; message: string }[] = [];
  refs.forEach((r, i) => {
    // caCertificateRefs are local: any namespace written into one is ignored.
    const res = loadCaBundle(ctx, { group: GW_GROUP, kind: "BackendTLSPolicy", namespace: p.namespace }, { group: r.group, kind: r.kind, name: r.name }, BACKEND_CA);
    if ("pem" in res) pems.push(res.pem);
    else {
      problems.push(res);
      ctx.report("error", refOfItem(p), `spec.validation.caCertificateRefs[${i}]`, res.message, "a ConfigMap or Secret in the policy's namespace with a PEM CA certificate under ca.crt");
    }
  });
  const resolvedRefs =
    problems.length === 0
      ? condition("ResolvedRefs", true, "ResolvedRefs", "Resolved all references", gen)
      : condition("ResolvedRefs", false, problems[0]!.reason, problems.map((x) => x.message).join("; "), gen);

  let error: string | null = null;
  let accepted: Condition;
  const wk = v.wellKnownCACertificates;
  if (refs.length > 0 && pems.length === 0) {
    error = `no valid CA certificate (${problems.map((x) => x.message).join("; ")})`;
    accepted = condition("Accepted", false, "NoValidCACertificate", error, gen);
  } else if (refs.length === 0 && wk !== "System") {
    error = wk ? `wellKnownCACertificates ${JSON.stringify(wk)} is not supported` : "neither caCertificateRefs nor wellKnownCACertificates is set";
    accepted = condition("Accepted", false, "Invalid", error, gen);
    ctx.report("error", refOfItem(p), "spec.validation.wellKnownCACertificates", error, '"System" or caCertificateRefs');
  } else {
    accepted = condition("Accepted", true, "Accepted", "Accepted", gen);
  }
  if (pems.length > 0) tls.caPem = pems.join("");
  if (error !== null) tls.error = `BackendTLSPolicy ${nameOf(p)}: ${error}`;
  return { error, tls, accepted, resolvedRefs };
}

/**
 * TLS settings for a cluster built from a Service port (or a Backend: port undefined), or undefined
 * for plain text. A policy naming the port wins over one naming the whole Service.
 */
export function backendTls(ctx: Context, kind: "Service" | "Backend", ns: string, name: string, portName: string | undefined): IrClusterTls | undefined {
  const idx = indexFor(ctx);
  const keys = portName !== undefined && portName !== "" ? [targetKey(kind, ns, name, portName), targetKey(kind, ns, name, undefined)] : [targetKey(kind, ns, name, undefined)];
  for (const k of keys) {
    const p = idx.byTarget.get(k);
    if (p) return { ...p.resolved.tls };
  }
  return undefined;
}

function addClusters(f: IrFilters, into: Set<string>): void {
  for (const m of f.mirrors ?? []) into.add(m.cluster);
}

/** Cluster name -> the Gateways whose attached routes send (or mirror) to it. */
function clusterReach(attachments: Attachment[]): Map<string, Set<GatewayState>> {
  const reach = new Map<string, Set<GatewayState>>();
  for (const a of attachments) {
    const names = new Set<string>();
    for (const rule of a.route.rules) {
      addClusters(rule.filters, names);
      if (rule.action.type !== "forward") continue;
      for (const b of rule.action.backends) {
        if (b.cluster !== null) names.add(b.cluster);
        addClusters(b.filters, names);
      }
    }
    for (const n of names) {
      const set = reach.get(n) ?? new Set<GatewayState>();
      set.add(a.listener.gateway);
      reach.set(n, set);
    }
  }
  return reach;
}

/** Cluster names a target key can have produced (backends.ts names them). */
function clustersOfTarget(ctx: Context, key: string): string[] {
  const [kind, ns, name, section] = key.split("/") as [string, string, string, string];
  if (kind === "Backend") return [`backend/${ns}/${name}`, `backend/${ns}/${name}/grpc`];
  const svc = ctx.index.services.get(`${ns}/${name}`);
  const out: string[] = [];
  for (const p of svc?.typed.spec?.ports ?? []) {
    if (section !== "" && (p.name ?? "") !== section) continue;
    out.push(`service/${ns}/${name}/${p.port}`, `service/${ns}/${name}/${p.port}/grpc`);
  }
  return out;
}

/** An L4 route attached to a listener, as far as BackendTLSPolicy status needs it. */
export interface L4Reach {
  listener: Pick<ListenerState, "gateway" | "tlsMode">;
  route: { kind: string };
  backends: IrL4Backend[];
}

/** Status of every BackendTLSPolicy that a Gateway reaches through its attached routes. */
export function backendTlsStatuses(ctx: Context, attachments: Attachment[], l4: L4Reach[] = []): StatusEntry[] {
  const idx = indexFor(ctx);
  if (idx.policies.length === 0) return [];
  const reach = clusterReach(attachments);
  // TLSRoutes on Terminate listeners re-encrypt to their backends: those Gateways are ancestors too.
  for (const a of l4) {
    if (a.route.kind !== "TLSRoute" || a.listener.tlsMode !== "Terminate") continue;
    for (const b of a.backends) {
      if (b.name === null || b.tls === undefined) continue;
      const set = reach.get(b.name) ?? new Set<GatewayState>();
      set.add(a.listener.gateway);
      reach.set(b.name, set);
    }
  }
  const out: StatusEntry[] = [];
  for (const st of idx.policies) {
    const gateways = new Map<string, GatewayState>();
    const viaWon = new Set<string>();
    const collect = (key: string, won: boolean): void => {
      for (const c of clustersOfTarget(ctx, key)) {
        for (const g of reach.get(c) ?? []) {
          const id = `${g.item.namespace}/${g.item.name}`;
          gateways.set(id, g);
          if (won) viaWon.add(id);
        }
      }
    };
    for (const k of st.won) collect(k, true);
    for (const l of st.lost) collect(l.key, false);
    if (gateways.size === 0) continue;
    const gen = st.item.generation;
    const winners = [...new Set(st.lost.map((l) => l.winner))].join(", ");
    const ancestors = [...gateways.keys()].sort(cmpStr).map((id) => {
      const g = gateways.get(id)!;
      // A policy that lost its target on this Gateway's path is Conflicted there (GEP-713).
      const accepted = !viaWon.has(id)
        ? condition("Accepted", false, "Conflicted", `an older BackendTLSPolicy (${winners}) targets the same Service and sectionName`, gen)
        : st.resolved.accepted;
      return {
        ancestorRef: { group: GW_GROUP, kind: "Gateway", namespace: g.item.namespace, name: g.item.name },
        controllerName: ctx.controllerName,
        conditions: sortConditions([accepted, st.resolved.resolvedRefs]),
      };
    });
    out.push({ ref: refOfItem(st.item), status: { ancestors } });
  }
  return out;
}
