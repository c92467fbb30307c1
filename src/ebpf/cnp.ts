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
// toPorts.rules.http is L7: kept on the rule (`http`) for the proxy to enforce; the port part still
// applies here. A rule with HTTP rules is split per toPorts entry, so they refine only their ports.
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

export interface HttpRule {
  /** Regular expressions matched against the whole value (Cilium's are extended POSIX regexes). */
  method?: string;
  path?: string;
  host?: string;
  /** Required headers: lowercase name and, when given, the exact value. */
  headers?: Array<{ name: string; value?: string }>;
}

/** A rule of the model, with where it came from and, for allow rules, its L7 HTTP rules. */
export interface CnpRule extends PolicyRule {
  /** Field path of the rule in the object, e.g. spec.ingress[0] or spec.ingress[0].toPorts[1]. */
  field: string;
  /** Present when the rule's toPorts entry has rules.http: a request must match one of these. */
  http?: HttpRule[];
}

/** One spec (of spec / specs[]): its own endpoint selector, rules and default. */
export interface CnpSpec {
  path: string;
  /** undefined: the spec selects no gateway (nodeSelector, or a missing selector already reported). */
  selector?: LabelSelector;
  /** Whether this spec puts the endpoints it selects in default deny for ingress. */
  defaultDeny: boolean;
  rules: CnpRule[];
}

export interface CnpPolicy {
  /** namespace/name (or name for the clusterwide kind). */
  name: string;
  specs: CnpSpec[];
  /** Every spec's rules, in order. */
  rules: CnpRule[];
  /** Whether any spec asks for default deny. */
  defaultDeny: boolean;
  /** Endpoint selectors of spec/specs (a gateway is selected when any of them matches its labels). */
  selectors: LabelSelector[];
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
// Fields Cilium defines at each level (supported or not): anything else is a typo.
const TOP_FIELDS = ["apiVersion", "kind", "metadata", "spec", "specs", "status"];
const SPEC_FIELDS = ["endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny", "labels", "description", "enableDefaultDeny", "log"];
const INGRESS_FIELDS = ["fromEndpoints", "fromRequires", "fromCIDR", "fromCIDRSet", "fromEntities", "fromGroups", "fromNodes", "toPorts", "icmps", "authentication"];
const SELECTOR_FIELDS = ["matchLabels", "matchExpressions"];
const CIDRSET_FIELDS = ["cidr", "except", "cidrGroupRef", "cidrGroupSelector"];
const TOPORTS_FIELDS = ["ports", "rules", "serverNames", "listener", "originatingTLS", "terminatingTLS"];
const PORT_FIELDS = ["port", "endPort", "protocol"];
const L7_FIELDS = ["http", "kafka", "dns", "l7proto", "l7"];
const HTTP_FIELDS = ["method", "path", "host", "headers", "headerMatches"];
const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
type Issue = (s: CnpIssue["severity"], f: string, m: string, e?: string) => void;

function onlyKnown(o: Obj, at: string, known: readonly string[], issue: Issue): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) issue("error", at ? `${at}.${k}` : k, `unknown field "${k}"`, `one of the fields Cilium defines here: ${[...known].sort().join(", ")}`);
  }
}

/** A list field: absent is fine; anything else than a list is reported. */
function listField(o: Obj, key: string, at: string, issue: Issue, what: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issue("error", `${at}.${key}`, `must be a list, got ${typeof v}`, what);
    return [];
  }
  return v;
}

export function isCiliumNetworkPolicy(o: K8sObject): boolean {
  return o.apiVersion === "cilium.io/v2" && KINDS.has(o.kind);
}

export function cnpToPolicy(o: K8sObject): CnpPolicy {
  const name = o.metadata.namespace && o.kind === "CiliumNetworkPolicy" ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  const out: CnpPolicy = { name, specs: [], rules: [], defaultDeny: false, selectors: [], issues: [] };
  const issue: Issue = (severity, field, message, expected) => out.issues.push({ severity, field, message, ...(expected ? { expected } : {}) });

  if (!isCiliumNetworkPolicy(o)) {
    issue("error", "kind", `${o.apiVersion}/${o.kind} is not a CiliumNetworkPolicy`, "apiVersion cilium.io/v2, kind CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy");
    return out;
  }
  onlyKnown(o, "", TOP_FIELDS, issue);
  const specs: Array<[string, unknown]> = [];
  if (o.spec !== undefined) specs.push(["spec", o.spec]);
  if (o.specs !== undefined && !Array.isArray(o.specs)) issue("error", "specs", "must be a list of specs", "a list of specs, each with endpointSelector and rules");
  list(o.specs).forEach((s, i) => specs.push([`specs[${i}]`, s]));
  if (specs.length === 0) issue("error", "spec", "the policy has neither spec nor specs", "spec with endpointSelector and ingress/ingressDeny rules");

  for (const [path, spec] of specs) {
    if (!isObj(spec)) {
      issue("error", path, "must be an object", "a mapping with endpointSelector and ingress/ingressDeny rules");
      continue;
    }
    onlyKnown(spec, path, SPEC_FIELDS, issue);
    const part: CnpSpec = { path, defaultDeny: false, rules: [] };
    if (isObj(spec.endpointSelector)) {
      if (checkSelector(spec.endpointSelector, `${path}.endpointSelector`, issue)) {
        part.selector = spec.endpointSelector as LabelSelector;
        out.selectors.push(part.selector);
      }
    } else if (spec.endpointSelector !== undefined) issue("error", `${path}.endpointSelector`, "must be a label selector", "matchLabels and/or matchExpressions ({} selects every gateway)");
    else if (isObj(spec.nodeSelector)) issue("warning", `${path}.nodeSelector`, "node selectors do not select a gateway; this spec applies to no gateway", "endpointSelector");
    else issue("error", `${path}.endpointSelector`, "missing", "an endpointSelector matching the gateway's labels ({} selects every gateway)");
    for (const f of ["egress", "egressDeny"]) if (spec[f] !== undefined) issue("warning", `${path}.${f}`, "egress rules are not enforced at the gateway's edge; ignored", "ingress / ingressDeny");

    const ingress = listField(spec, "ingress", path, issue, "a list of ingress rules");
    const ingressDeny = listField(spec, "ingressDeny", path, issue, "a list of ingress deny rules");
    let dd: unknown;
    if (spec.enableDefaultDeny !== undefined) {
      if (!isObj(spec.enableDefaultDeny)) issue("error", `${path}.enableDefaultDeny`, "must be a mapping", "{ ingress: true|false }");
      else {
        onlyKnown(spec.enableDefaultDeny, `${path}.enableDefaultDeny`, ["ingress", "egress"], issue);
        dd = spec.enableDefaultDeny.ingress;
        if (dd !== undefined && typeof dd !== "boolean") issue("error", `${path}.enableDefaultDeny.ingress`, `must be true or false, got ${JSON.stringify(dd)}`, "true or false");
      }
    }
    if (dd === true || (dd !== false && spec.ingress !== undefined)) part.defaultDeny = true;

    for (const [section, verdict, rules] of [
      ["ingress", "allow", ingress],
      ["ingressDeny", "deny", ingressDeny],
    ] as const) {
      rules.forEach((r, i) => {
        const field = `${path}.${section}[${i}]`;
        if (!isObj(r)) {
          issue("error", field, "must be an object", "a rule with fromCIDR / fromCIDRSet / fromEntities and/or toPorts");
          return;
        }
        onlyKnown(r, field, INGRESS_FIELDS, issue);
        part.rules.push(...convertRule(r, field, `${name}/${field}`, verdict, issue));
      });
    }
    out.specs.push(part);
    out.rules.push(...part.rules);
    if (part.defaultDeny) out.defaultDeny = true;
  }
  return out;
}

/** Reports problems of a label selector; true when it has none (a broken selector selects nothing). */
function checkSelector(sel: Obj, at: string, issue: Issue): boolean {
  let problems = 0;
  const outer = issue;
  issue = (s, f, m, e) => {
    problems++;
    outer(s, f, m, e);
  };
  onlyKnown(sel, at, SELECTOR_FIELDS, issue);
  if (sel.matchLabels !== undefined) {
    if (!isObj(sel.matchLabels)) issue("error", `${at}.matchLabels`, "must be a mapping of label keys to values", "e.g. { app: gateway }");
    else for (const [k, v] of Object.entries(sel.matchLabels)) if (typeof v !== "string") issue("error", `${at}.matchLabels.${k}`, `${JSON.stringify(v)} is not a string`, 'a string (quote numbers and booleans, e.g. "true")');
  }
  listField(sel, "matchExpressions", at, issue, "a list of {key, operator, values}").forEach((e, i) => {
    const ef = `${at}.matchExpressions[${i}]`;
    if (!isObj(e)) return issue("error", ef, "must be a mapping", "{key, operator, values}");
    onlyKnown(e, ef, ["key", "operator", "values"], issue);
    if (typeof e.key !== "string" || !e.key) issue("error", `${ef}.key`, "missing or not a string", "a label key");
    if (typeof e.operator !== "string" || !OPERATORS.includes(e.operator)) issue("error", `${ef}.operator`, `unknown operator ${JSON.stringify(e.operator)}`, OPERATORS.join(", "));
    else if ((e.operator === "In" || e.operator === "NotIn") && (!Array.isArray(e.values) || e.values.length === 0)) issue("error", `${ef}.values`, `operator ${e.operator} needs values`, "a non-empty list of strings");
    else if ((e.operator === "Exists" || e.operator === "DoesNotExist") && Array.isArray(e.values) && e.values.length > 0) issue("error", `${ef}.values`, `operator ${e.operator} takes no values`, "no values");
  });
  return problems === 0;
}

function convertRule(r: Obj, field: string, id: string, verdict: "allow" | "deny", issue: Issue): CnpRule[] {
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
  listField(r, "fromCIDR", field, issue, "a list of CIDRs").forEach((c, j) => {
    hasSelector = true;
    const p = typeof c === "string" ? parseCidr(c) : `${JSON.stringify(c)} is not a string`;
    if (typeof p === "string") issue("error", `${field}.fromCIDR[${j}]`, String(p), "a CIDR such as 10.0.0.0/8 or 2001:db8::/32");
    else from.push({ cidr: c as string });
  });
  listField(r, "fromCIDRSet", field, issue, "a list of {cidr, except}").forEach((s, j) => {
    hasSelector = true;
    const sf = `${field}.fromCIDRSet[${j}]`;
    if (!isObj(s)) return issue("error", sf, "must be an object with cidr and optional except", "{ cidr: 10.0.0.0/8, except: [10.96.0.0/12] }");
    onlyKnown(s, sf, CIDRSET_FIELDS, issue);
    if (s.cidrGroupRef !== undefined || s.cidrGroupSelector !== undefined) {
      return issue(gap, sf, "CiliumCIDRGroup references are not supported; this entry matches nothing here", "cidr with optional except");
    }
    const cidr = typeof s.cidr === "string" ? parseCidr(s.cidr) : "cidr is missing";
    if (typeof cidr === "string") return issue("error", `${sf}.cidr`, cidr, "a CIDR such as 10.0.0.0/8");
    const except: string[] = [];
    listField(s, "except", sf, issue, "a list of CIDRs inside cidr").forEach((e, k) => {
      const p = typeof e === "string" ? parseCidr(e) : `${JSON.stringify(e)} is not a string`;
      if (typeof p === "string") issue("error", `${sf}.except[${k}]`, p, "a CIDR inside the set's cidr");
      else if (!contains(cidr, p)) issue("error", `${sf}.except[${k}]`, `${String(e)} is not inside ${String(s.cidr)}`, `a CIDR inside ${String(s.cidr)}`);
      else except.push(e as string);
    });
    from.push({ cidr: s.cidr as string, ...(except.length ? { except } : {}) });
  });
  listField(r, "fromEntities", field, issue, "a list of entity names").forEach((e, j) => {
    hasSelector = true;
    const cidrs = typeof e === "string" ? ENTITIES[e] : undefined;
    if (!cidrs) {
      issue(gap, `${field}.fromEntities[${j}]`, `entity ${JSON.stringify(e)} is not supported at the gateway's edge; it matches nothing here`, "world, all, world-ipv4 or world-ipv6");
    } else for (const c of cidrs) from.push({ cidr: c });
  });
  if (r.icmps !== undefined) issue(gap, `${field}.icmps`, "ICMP type rules are not supported; ignored", "toPorts");
  if (r.authentication !== undefined) issue(gap, `${field}.authentication`, "mutual authentication is not supported at the gateway's edge; ignored");

  // One group of ports per toPorts entry, with that entry's HTTP rules.
  const groups: Array<{ field: string; ports: PortMatch[]; http?: HttpRule[] }> = [];
  const toPorts = listField(r, "toPorts", field, issue, "a list of {ports, rules}");
  toPorts.forEach((tp, j) => {
    const tf = `${field}.toPorts[${j}]`;
    if (!isObj(tp)) return issue("error", tf, "must be an object with ports", "{ ports: [{ port: \"80\", protocol: TCP }] }");
    onlyKnown(tp, tf, TOPORTS_FIELDS, issue);
    for (const f of UNSUPPORTED_PORT_RULE) if (tp[f] !== undefined) issue(gap, `${tf}.${f}`, `${f} is not supported; ignored`);
    const these: PortMatch[] = [];
    const portList = listField(tp, "ports", tf, issue, "a list of {port, endPort, protocol}");
    if (portList.length === 0) these.push({ protocol: "ANY", port: 0 });
    portList.forEach((pp, k) => {
      const m = convertPort(pp, `${tf}.ports[${k}]`, issue);
      if (m) these.push(m);
    });
    if (these.length === 0) return; // every port of the entry was invalid: it selects nothing
    let http: HttpRule[] | undefined;
    if (tp.rules !== undefined) {
      if (!isObj(tp.rules)) issue("error", `${tf}.rules`, "must be a mapping", "{ http: [...] }");
      else if (verdict === "deny") issue("error", `${tf}.rules`, "L7 rules are not allowed in ingressDeny", "rules only under ingress");
      else {
        onlyKnown(tp.rules, `${tf}.rules`, L7_FIELDS, issue);
        for (const k of Object.keys(tp.rules)) {
          if (k !== "http" && L7_FIELDS.includes(k)) issue("warning", `${tf}.rules.${k}`, `L7 ${k} rules are not supported (only http is, enforced by the proxy); connections on these ports are allowed without them`);
        }
        if (tp.rules.http !== undefined) http = convertHttp(tp.rules.http, `${tf}.rules.http`, issue);
      }
    }
    groups.push({ field: tf, ports: these, ...(http ? { http } : {}) });
  });
  if (toPorts.length > 0 && groups.length === 0) return []; // every port entry was invalid: select nothing

  if (!hasSelector) {
    // Ports without a source selector apply to every source; `{}` selects nothing.
    if (toPorts.length === 0) return [];
    from.push({ cidr: "0.0.0.0/0" }, { cidr: "::/0" });
  } else if (from.length === 0) {
    // Only invalid or unsupported selectors: the rule selects nothing (never "every source").
    return [];
  }
  // A rule whose entries carry HTTP rules is split per entry: the HTTP rules refine only their own ports.
  if (groups.some((g) => g.http)) {
    return groups.map((g) => ({ id: `${id}${g.field.slice(field.length)}`, field: g.field, verdict, from, ports: g.ports, ...(g.http ? { http: g.http } : {}) }));
  }
  return [{ id, field, verdict, from, ports: groups.flatMap((g) => g.ports) }];
}

function convertHttp(v: unknown, at: string, issue: Issue): HttpRule[] | undefined {
  if (!Array.isArray(v)) {
    issue("error", at, "must be a list of HTTP rules", "[{ method: GET, path: \"/public/.*\" }]");
    return undefined;
  }
  const out: HttpRule[] = [];
  v.forEach((h, i) => {
    const hf = `${at}[${i}]`;
    if (!isObj(h)) return issue("error", hf, "must be a mapping", "{ method, path, host, headers }");
    onlyKnown(h, hf, HTTP_FIELDS, issue);
    const rule: HttpRule = {};
    for (const k of ["method", "path", "host"] as const) {
      const val = h[k];
      if (val === undefined) continue;
      if (typeof val !== "string") {
        issue("error", `${hf}.${k}`, `${JSON.stringify(val)} is not a string`, "a regular expression");
        continue;
      }
      try {
        new RegExp(`^(?:${val})$`);
        rule[k] = val;
      } catch (e) {
        issue("error", `${hf}.${k}`, `not a valid regular expression: ${(e as Error).message}`, "a regular expression matched against the whole value");
      }
    }
    const headers: Array<{ name: string; value?: string }> = [];
    listField(h, "headers", hf, issue, 'a list of "Name" or "Name: value"').forEach((x, j) => {
      if (typeof x !== "string" || !x.trim()) return issue("error", `${hf}.headers[${j}]`, `${JSON.stringify(x)} is not a header`, '"Name" or "Name: value"');
      const colon = x.indexOf(":");
      if (colon < 0) headers.push({ name: x.trim().toLowerCase() });
      else headers.push({ name: x.slice(0, colon).trim().toLowerCase(), value: x.slice(colon + 1).trim() });
    });
    listField(h, "headerMatches", hf, issue, "a list of {name, value}").forEach((m, j) => {
      const mf = `${hf}.headerMatches[${j}]`;
      if (!isObj(m) || typeof m.name !== "string") return issue("error", mf, "must be a mapping with a name", "{ name: X-Token, value: abc }");
      if (m.mismatch !== undefined || m.secret !== undefined) {
        // Enforcing only the match would reject requests Cilium would have rewritten or logged.
        return issue("warning", mf, "mismatch actions and secret values are not supported; this header match is ignored", "{ name, value }");
      }
      headers.push({ name: m.name.toLowerCase(), ...(typeof m.value === "string" ? { value: m.value } : {}) });
    });
    if (headers.length) rule.headers = headers;
    out.push(rule);
  });
  return out;
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
