// The one flow filter: `sluice observe` parses its flags with it and sends them as query
// parameters; the admin server parses those same parameters with it; the workers run the compiled
// predicate over their recent records. Values of one filter are alternatives (OR); different
// filters must all hold (AND), as in Hubble.
//   from      CIDR or address: the source IP is inside; name: the flow came in through that listener
//   to        CIDR or address: the destination IP, or the backend endpoint's (l7), is inside;
//             name: the flow's listener, route or backend
//   verdict   forwarded | dropped | answered | error
//   port      source or destination port
//   protocol  transport (tcp, udp, icmp, ...) or application (http, tls); case-insensitive
// A name matches when its "/"-separated parts appear, in order and adjacent, in the full name:
// "echo", "default/echo" and "backend/default/echo/8080" all match backend "backend/default/echo/8080".
import { contains, parseCidr, type Prefix } from "../ebpf/cidr.js";
import { FLOW_VERDICTS, type FlowRecord, type FlowVerdict } from "./flow-record.js";

export interface FlowFilterSpec {
  from?: string[];
  to?: string[];
  verdict?: FlowVerdict[];
  port?: number[];
  protocol?: string[];
}

export const FILTER_KEYS = ["from", "to", "verdict", "port", "protocol"] as const;

export type FlowPredicate = (r: FlowRecord) => boolean;

/**
 * Builds a spec from raw values (repeated flags or query parameters; a value may also be a
 * comma-separated list). Returns the spec, or a list of sentences saying what is wrong.
 */
export function parseFlowFilter(raw: Partial<Record<(typeof FILTER_KEYS)[number], string[]>>): { spec: FlowFilterSpec } | { errors: string[] } {
  const errors: string[] = [];
  const spec: FlowFilterSpec = {};
  const values = (k: (typeof FILTER_KEYS)[number]): string[] =>
    (raw[k] ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  for (const dir of ["from", "to"] as const) {
    const vs = values(dir);
    for (const v of vs) {
      if (looksLikeAddress(v)) {
        const p = parseCidr(v);
        if (typeof p === "string") errors.push(`--${dir}: ${p}`);
      } else if (!/^[A-Za-z0-9._\-/]+$/.test(v)) {
        errors.push(`--${dir}: "${v}" is neither a CIDR nor a name (names are made of letters, digits, ".", "-", "_" and "/")`);
      }
    }
    if (vs.length) spec[dir] = vs;
  }
  const verdicts = values("verdict").map((v) => v.toLowerCase());
  for (const v of verdicts) if (!(FLOW_VERDICTS as readonly string[]).includes(v)) errors.push(`--verdict: "${v}" is not a verdict (expected one of ${FLOW_VERDICTS.join(", ")})`);
  if (verdicts.length) spec.verdict = verdicts as FlowVerdict[];
  const ports = values("port");
  for (const p of ports) if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) errors.push(`--port: "${p}" is not a port (expected 0..65535)`);
  if (ports.length) spec.port = ports.map(Number);
  const protocols = values("protocol").map((p) => p.toLowerCase());
  for (const p of protocols) if (!/^[a-z0-9]+$/.test(p)) errors.push(`--protocol: "${p}" is not a protocol name (e.g. tcp, udp, http, tls)`);
  if (protocols.length) spec.protocol = protocols;
  return errors.length ? { errors } : { spec };
}

/** Reads a spec from URL query parameters (the admin API). */
export function filterFromQuery(q: URLSearchParams): { spec: FlowFilterSpec } | { errors: string[] } {
  const raw: Partial<Record<(typeof FILTER_KEYS)[number], string[]>> = {};
  for (const k of FILTER_KEYS) {
    const vs = q.getAll(k);
    if (vs.length) raw[k] = vs;
  }
  return parseFlowFilter(raw);
}

/** Writes a spec as URL query parameters (what the CLI sends). */
export function filterToQuery(spec: FlowFilterSpec, q: URLSearchParams = new URLSearchParams()): URLSearchParams {
  for (const k of FILTER_KEYS) for (const v of spec[k] ?? []) q.append(k, String(v));
  return q;
}

function looksLikeAddress(v: string): boolean {
  // Digits and dots (IPv4) or anything with a colon (IPv6); names never contain ":".
  return v.includes(":") || /^[\d.]+(\/\d+)?$/.test(v);
}

interface Side {
  prefixes: Prefix[];
  names: string[][];
}

function side(values: string[] | undefined): Side | null {
  if (!values?.length) return null;
  const s: Side = { prefixes: [], names: [] };
  for (const v of values) {
    if (looksLikeAddress(v)) {
      const p = parseCidr(v);
      if (typeof p !== "string") s.prefixes.push(p);
    } else s.names.push(v.split("/").filter((x) => x !== ""));
  }
  return s;
}

function nameMatches(full: string | null | undefined, parts: string[]): boolean {
  if (!full || parts.length === 0) return false;
  const segs = full.split("/");
  outer: for (let i = 0; i + parts.length <= segs.length; i++) {
    for (let j = 0; j < parts.length; j++) if (segs[i + j] !== parts[j]) continue outer;
    return true;
  }
  return false;
}

/** "10.0.0.1:80" / "[::1]:80" -> the address; a socket path gives "" (matches no CIDR). */
function upstreamIp(u: string): string {
  if (u.startsWith("[")) return u.slice(1, u.indexOf("]"));
  const c = u.lastIndexOf(":");
  return c > 0 && u.indexOf(":") === c ? u.slice(0, c) : "";
}

function ipIn(ip: string, prefixes: Prefix[]): boolean {
  if (prefixes.length === 0 || !ip) return false;
  const a = parseCidr(ip);
  if (typeof a === "string") return false;
  return prefixes.some((p) => contains(p, a));
}

/** Compiles a spec into a predicate. An empty spec matches everything. */
export function compileFlowFilter(spec: FlowFilterSpec): FlowPredicate {
  const tests: FlowPredicate[] = [];
  const from = side(spec.from);
  if (from) tests.push((r) => ipIn(r.src.ip, from.prefixes) || from.names.some((n) => nameMatches(r.listener, n)));
  const to = side(spec.to);
  if (to) {
    tests.push(
      (r) => ipIn(r.dst.ip, to.prefixes) || (r.upstream !== undefined && ipIn(upstreamIp(r.upstream), to.prefixes)) || to.names.some((n) => nameMatches(r.listener, n) || nameMatches(r.route, n) || nameMatches(r.backend, n)),
    );
  }
  if (spec.verdict?.length) {
    const vs = new Set<string>(spec.verdict);
    tests.push((r) => vs.has(r.verdict));
  }
  if (spec.port?.length) {
    const ps = new Set(spec.port);
    tests.push((r) => ps.has(r.src.port) || ps.has(r.dst.port));
  }
  if (spec.protocol?.length) {
    const ps = new Set(spec.protocol.map((p) => p.toLowerCase()));
    tests.push((r) => ps.has(r.protocol.toLowerCase()) || (r.app !== undefined && ps.has(r.app.toLowerCase())));
  }
  if (tests.length === 0) return () => true;
  return (r) => {
    for (const t of tests) if (!t(r)) return false;
    return true;
  };
}
