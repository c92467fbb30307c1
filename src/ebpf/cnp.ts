// CiliumNetworkPolicy (cilium.io/v2) -> edge policy model, for the subset enforced at the gateway's
// edge. Pure: no I/O; problems come back as issues with a field path for the user.
//
// Supported (ingress only, as Cilium defines it):
//   spec / specs[]            endpointSelector (matchLabels, matchExpressions) via selectsEndpoint()
//   ingress[] / ingressDeny[] fromCIDR, fromCIDRSet (cidr + except), fromEntities world/all
//                             (world-ipv4, world-ipv6), toPorts[].ports[] (port, endPort,
//                             protocol TCP/UDP/SCTP/ANY; port "0" or absent = every port)
//   enableDefaultDeny.ingress
// Semantics: sources within a rule are ORed, then ANDed with its ports; a rule with ports but no
// source selector applies to every source; `ingress: [{}]` selects nothing but turns on default
// deny; deny rules beat allow rules; an endpoint with any ingress allow rule is default-deny
// unless enableDefaultDeny.ingress is false.
// Not supported (reported, never silently widened): fromEndpoints, fromRequires, fromGroups,
// fromNodes, cidrGroupRef, other entities, named ports, icmps, toPorts.serverNames,
// toPorts.listener, toPorts.originatingTLS/terminatingTLS, egress/egressDeny (ignored, warning).
// toPorts.rules.http is L7: returned in `l7` for the proxy to enforce; the port part still applies here.
import type { K8sObject } from "../resources/types.js";
import { contains, parseCidr } from "./cidr.js";
import type { CidrMatch, PolicyModel, PolicyRule, PortMatch, Protocol } from "./policy-map.js";

export interface CnpIssue {
  severity: "error" | "warning";
  /** Field path inside the object, e.g. spec.ingress[0].fromCIDRSet[1].except[0]. */
  field: string;
  message: string;
  expected?: string;
}

export interface L7Rules {
  /** The rule id whose ports these HTTP rules refine. */
  ruleId: string;
  field: string;
  ports: PortMatch[];
  http: unknown[];
}

export interface CnpPolicy {
  /** namespace/name (or name for the clusterwide kind). */
  name: string;
  rules: PolicyRule[];
  /** Whether this policy puts the selected endpoint in default-deny for ingress. */
  defaultDeny: boolean;
  /** Endpoint selectors of spec/specs (a gateway is selected when any of them matches its labels). */
  selectors: LabelSelector[];
  l7: L7Rules[];
  issues: CnpIssue[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

const KINDS = new Set(["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);
const UNSUPPORTED_FROM = ["fromEndpoints", "fromRequires", "fromGroups", "fromNodes"];
const UNSUPPORTED_PORT_RULE = ["serverNames", "listener", "originatingTLS", "terminatingTLS"];
const ENTITIES: Record<string, string[]> = {
  world: ["0.0.0.0/0", "::/0"],
  all: ["0.0.0.0/0", "::/0"],
  "world-ipv4": ["0.0.0.0/0"],
  "world-ipv6": ["::/0"],
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function isCiliumNetworkPolicy(o: K8sObject): boolean {
  return o.apiVersion === "cilium.io/v2" && KINDS.has(o.kind);
}

export function cnpToPolicy(o: K8sObject): CnpPolicy {
  const name = o.metadata.namespace && o.kind === "CiliumNetworkPolicy" ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  const out: CnpPolicy = { name, rules: [], defaultDeny: false, selectors: [], l7: [], issues: [] };
  const issue = (severity: CnpIssue["severity"], field: string, message: string, expected?: string) =>
    out.issues.push({ severity, field, message, ...(expected ? { expected } : {}) });

  if (!isCiliumNetworkPolicy(o)) {
    issue("error", "kind", `${o.apiVersion}/${o.kind} is not a CiliumNetworkPolicy`, "apiVersion cilium.io/v2, kind CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy");
    return out;
  }
  const specs: Array<[string, unknown]> = [];
  if (o.spec !== undefined) specs.push(["spec", o.spec]);
  list(o.specs).forEach((s, i) => specs.push([`specs[${i}]`, s]));
  if (specs.length === 0) issue("error", "spec", "the policy has neither spec nor specs", "spec with endpointSelector and ingress/ingressDeny rules");

  for (const [path, spec] of specs) {
    if (!isObj(spec)) {
      issue("error", path, "must be an object");
      continue;
    }
    if (isObj(spec.endpointSelector)) out.selectors.push(spec.endpointSelector as LabelSelector);
    else if (isObj(spec.nodeSelector)) issue("warning", `${path}.nodeSelector`, "node selectors do not select a gateway; this spec applies to no gateway");
    else issue("error", `${path}.endpointSelector`, "missing", "an endpointSelector matching the gateway's labels ({} selects every gateway)");
    for (const f of ["egress", "egressDeny"]) if (spec[f] !== undefined) issue("warning", `${path}.${f}`, "egress rules are not enforced at the gateway's edge; ignored");

    const ingress = list(spec.ingress);
    const ingressDeny = list(spec.ingressDeny);
    const dd = isObj(spec.enableDefaultDeny) ? spec.enableDefaultDeny.ingress : undefined;
    if (dd === true || (dd !== false && spec.ingress !== undefined)) out.defaultDeny = true;

    for (const [section, verdict, rules] of [
      ["ingress", "allow", ingress],
      ["ingressDeny", "deny", ingressDeny],
    ] as const) {
      rules.forEach((r, i) => {
        const field = `${path}.${section}[${i}]`;
        if (!isObj(r)) {
          issue("error", field, "must be an object");
          return;
        }
        const rule = convertRule(r, field, `${name}/${path}.${section}[${i}]`, verdict, issue, out.l7);
        if (rule) out.rules.push(rule);
      });
    }
  }
  return out;
}

function convertRule(
  r: Obj,
  field: string,
  id: string,
  verdict: "allow" | "deny",
  issue: (s: CnpIssue["severity"], f: string, m: string, e?: string) => void,
  l7: L7Rules[],
): PolicyRule | undefined {
  // An unenforced deny would let traffic through that the user meant to stop: that is an error.
  const gap: CnpIssue["severity"] = verdict === "deny" ? "error" : "warning";
  const from: CidrMatch[] = [];
  let hasSelector = false;

  for (const f of UNSUPPORTED_FROM) {
    if (r[f] !== undefined) {
      hasSelector = true;
      issue(gap, `${field}.${f}`, `${f} is not supported at the gateway's edge (it needs cluster identities); this selector matches nothing here`, "fromCIDR / fromCIDRSet / fromEntities");
    }
  }
  list(r.fromCIDR).forEach((c, j) => {
    hasSelector = true;
    const p = typeof c === "string" ? parseCidr(c) : "not a string";
    if (typeof p === "string") issue("error", `${field}.fromCIDR[${j}]`, String(p), "a CIDR such as 10.0.0.0/8 or 2001:db8::/32");
    else from.push({ cidr: c as string });
  });
  list(r.fromCIDRSet).forEach((s, j) => {
    hasSelector = true;
    const sf = `${field}.fromCIDRSet[${j}]`;
    if (!isObj(s)) return issue("error", sf, "must be an object with cidr and optional except");
    if (s.cidrGroupRef !== undefined || s.cidrGroupSelector !== undefined) {
      return issue(gap, sf, "CiliumCIDRGroup references are not supported; this entry matches nothing here", "cidr with optional except");
    }
    const cidr = typeof s.cidr === "string" ? parseCidr(s.cidr) : "cidr is missing";
    if (typeof cidr === "string") return issue("error", `${sf}.cidr`, cidr, "a CIDR such as 10.0.0.0/8");
    const except: string[] = [];
    list(s.except).forEach((e, k) => {
      const p = typeof e === "string" ? parseCidr(e) : "not a string";
      if (typeof p === "string") issue("error", `${sf}.except[${k}]`, p, "a CIDR inside the set's cidr");
      else if (!contains(cidr, p)) issue("error", `${sf}.except[${k}]`, `${String(e)} is not inside ${String(s.cidr)}`, `a CIDR inside ${String(s.cidr)}`);
      else except.push(e as string);
    });
    from.push({ cidr: s.cidr as string, ...(except.length ? { except } : {}) });
  });
  list(r.fromEntities).forEach((e, j) => {
    hasSelector = true;
    const cidrs = typeof e === "string" ? ENTITIES[e] : undefined;
    if (!cidrs) {
      issue(gap, `${field}.fromEntities[${j}]`, `entity ${JSON.stringify(e)} is not supported at the gateway's edge; it matches nothing here`, "world, all, world-ipv4 or world-ipv6");
    } else for (const c of cidrs) from.push({ cidr: c });
  });
  if (r.icmps !== undefined) issue(gap, `${field}.icmps`, "ICMP type rules are not supported; ignored", "toPorts");

  const ports: PortMatch[] = [];
  const toPorts = list(r.toPorts);
  toPorts.forEach((tp, j) => {
    const tf = `${field}.toPorts[${j}]`;
    if (!isObj(tp)) return issue("error", tf, "must be an object with ports");
    for (const f of UNSUPPORTED_PORT_RULE) if (tp[f] !== undefined) issue(gap, `${tf}.${f}`, `${f} is not supported; ignored`);
    const these: PortMatch[] = [];
    const portList = list(tp.ports);
    if (portList.length === 0) these.push({ protocol: "ANY", port: 0 });
    portList.forEach((pp, k) => {
      const pf = `${tf}.ports[${k}]`;
      const m = convertPort(pp, pf, issue);
      if (m) these.push(m);
    });
    ports.push(...these);
    if (isObj(tp.rules)) {
      if (verdict === "deny") issue("error", `${tf}.rules`, "L7 rules are not allowed in ingressDeny");
      else if (Array.isArray(tp.rules.http)) l7.push({ ruleId: id, field: `${tf}.rules.http`, ports: these, http: tp.rules.http });
      for (const k of Object.keys(tp.rules)) if (k !== "http") issue("warning", `${tf}.rules.${k}`, `L7 ${k} rules are not supported; only http is enforced (by the proxy)`);
    }
  });
  if (toPorts.length > 0 && ports.length === 0) return undefined; // every port entry was invalid: select nothing

  if (!hasSelector) {
    // Ports without a source selector apply to every source; `{}` selects nothing.
    if (toPorts.length === 0) return undefined;
    from.push({ cidr: "0.0.0.0/0" }, { cidr: "::/0" });
  } else if (from.length === 0) {
    // Only invalid or unsupported selectors: the rule selects nothing (never "every source").
    return undefined;
  }
  return { id, verdict, from, ports };
}

function convertPort(pp: unknown, pf: string, issue: (s: CnpIssue["severity"], f: string, m: string, e?: string) => void): PortMatch | undefined {
  if (!isObj(pp)) {
    issue("error", pf, "must be an object with port and protocol");
    return undefined;
  }
  const protoText = pp.protocol === undefined ? "ANY" : String(pp.protocol).toUpperCase();
  if (!["TCP", "UDP", "SCTP", "ANY"].includes(protoText)) {
    issue("error", `${pf}.protocol`, `protocol ${String(pp.protocol)} is not supported`, "TCP, UDP, SCTP or ANY");
    return undefined;
  }
  const protocol = protoText as Protocol;
  const portText = pp.port === undefined ? "0" : String(pp.port);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    issue("error", `${pf}.port`, `port ${JSON.stringify(pp.port)} is not a number (named ports need pod specs, which the gateway's edge does not have)`, "a port number 0..65535 (0 = every port)");
    return undefined;
  }
  const port = Number(portText);
  if (pp.endPort === undefined) return { protocol, port };
  const endPort = Number(pp.endPort);
  if (!Number.isInteger(endPort) || endPort < port || endPort > 65535 || port === 0) {
    issue("error", `${pf}.endPort`, `endPort ${JSON.stringify(pp.endPort)} does not close a range starting at ${port}`, `an integer ${Math.max(port, 1)}..65535 with a non-zero port`);
    return undefined;
  }
  return { protocol, port, endPort };
}

/** Whether an endpointSelector matches a set of labels ({} matches everything). */
export function selectsEndpoint(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[stripSource(k)] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const key = stripSource(e.key);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[key])) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Cilium label keys may carry a source prefix ("k8s:app"): the gateway's labels have none. */
function stripSource(key: string): string {
  const m = /^(k8s|any|reserved|container|unspec):(.*)$/.exec(key);
  return m ? m[2] : key;
}

/**
 * Merges the policies that select one gateway into the model the kernel enforces: the union of
 * their rules, default-deny when any of them asks for it (as Cilium does for an endpoint).
 */
export function mergePolicies(policies: CnpPolicy[]): PolicyModel {
  const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    defaultVerdict: sorted.some((p) => p.defaultDeny) ? "deny" : "allow",
    rules: sorted.flatMap((p) => p.rules),
  };
}
