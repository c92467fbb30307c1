// TCPRoute / TLSRoute / UDPRoute helpers: status checks for L4 route parents (the HTTPRoute helpers
// name their kind), backend Services for the L4 pods, and traffic checks in the style of upstream's
// TCP/TLS/UDP helpers: a request must reach the expected pod (namespace, TLS or not, SNI seen),
// converging within 1.5 s and then matching twice in a row; a rejection must hold twice in a row.
import { X509Certificate } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import { holdsInARow } from "./eventually.js";
import type { ConformanceEnv } from "./env.js";
import type { L4Pod, L4PodKind, PodReply } from "./l4-pods.js";
import type { Cond, ExpectedParent, Items, NN } from "./status.js";
import { eventually, find, gatewayAccepted, hasCondition, latestGeneration, routeParents } from "./status.js";

export type L4Kind = "TCPRoute" | "TLSRoute" | "UDPRoute";

export function l4RouteCondition(items: Items, kind: L4Kind, route: NN, gw: NN, want: Cond): string | null {
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

/** Upstream's <Kind>RouteMustHaveNoAcceptedParents: no parent status, or one that is not Accepted. */
export function l4NoAcceptedParents(items: Items, kind: L4Kind, route: NN): string | null {
  const r = find(items, kind, route);
  if (!r) return `${kind} ${route.namespace}/${route.name} not in /status`;
  const parents = r.status?.parents ?? [];
  if (parents.length === 0) return null;
  if (parents.length > 1) return `${kind} ${route.name}: ${parents.length} parents, expected at most one`;
  return hasCondition(parents[0]!.conditions, { type: "Accepted", status: "False" });
}

/** Upstream's <Kind>MustHaveParents with one Accepted parent for the Gateway (namespace not required). */
export function l4AcceptedParent(items: Items, kind: L4Kind, route: NN, gw: NN, sectionName?: string): string | null {
  const parent: ExpectedParent = {
    parentRef: { name: gw.name, namespace: gw.namespace, ...(sectionName ? { sectionName } : {}) },
    conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }],
  };
  return routeParents(items, route, [parent], false, kind);
}

/** Gateway<Kind>sMustBeAccepted: the Gateway is accepted and programmed, each route Accepted by it. */
export async function mustBeL4Accepted(env: ConformanceEnv, kind: L4Kind, gw: NN, routes: NN[], resolved = false): Promise<void> {
  await eventually(env, (items) => {
    const g = gatewayAccepted(items, gw);
    if (g) return g;
    for (const r of routes) {
      const d =
        l4RouteCondition(items, kind, r, gw, { type: "Accepted", status: "True", reason: "Accepted" }) ??
        (resolved ? l4RouteCondition(items, kind, r, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }) : null);
      if (d) return d;
    }
    return null;
  });
}

/**
 * A Service with `pods` L4 pods behind it (one EndpointSlice each, since every pod listens on its own
 * port here). Each entry of `ports` is a Service port served by pods of that kind.
 */
export function l4Service(namespace: string, name: string, ports: { name: string; port: number; kind: L4PodKind }[], pods = 1): string {
  const protocol = (k: L4PodKind): string => (k === "udp" ? "UDP" : "TCP");
  const svc = `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {app: ${name}}
  ports:
${ports.map((p) => `  - {name: ${p.name}, protocol: ${protocol(p.kind)}, port: ${p.port}, targetPort: ${p.port}}`).join("\n")}
`;
  const slices = Array.from(
    { length: pods },
    (_, i) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-pod-${i}
  namespace: ${namespace}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports:
${ports.map((p) => `- {name: ${p.name}, protocol: ${protocol(p.kind)}, port: {{endpoint:${namespace}/${name}-pod-${i}/${p.kind}}}}`).join("\n")}
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {ready: true}
`,
  );
  return [svc, ...slices].join("---\n") + "---\n";
}

/** The L4 pod started for NS/POD/KIND (valid after the environment started). */
export function l4Pod(env: ConformanceEnv, namespace: string, pod: string, kind: L4PodKind): L4Pod {
  const p = env.pods.get(`${namespace}/${pod}/${kind}`) as L4Pod | undefined;
  if (!p) throw new Error(`no ${kind} pod ${namespace}/${pod}`);
  return p;
}

export interface L4Answer extends PodReply {
  /** SHA-256 fingerprint of the certificate the client was answered with (TLS only). */
  peerFingerprint: string | null;
}

const ASK_TIMEOUT_MS = 2000;

function readLine(s: net.Socket, onReady: () => void, describe: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`${describe}: no answer in ${ASK_TIMEOUT_MS} ms`));
    }, ASK_TIMEOUT_MS);
    const finish = (err: Error | null, line?: string): void => {
      clearTimeout(t);
      s.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    s.once(s instanceof tls.TLSSocket ? "secureConnect" : "connect", onReady);
    s.on("data", (c: Buffer) => {
      buf += c.toString("latin1");
      const i = buf.indexOf("\n");
      if (i >= 0) finish(null, buf.slice(0, i));
    });
    s.once("error", (e) => finish(new Error(`${describe}: ${e.message}`)));
    s.once("close", () => finish(new Error(`${describe}: closed without an answer`)));
  });
}

/** One line over a fresh TCP connection; the pod's answer. */
export async function askTcp(port: number): Promise<L4Answer> {
  const s = net.connect({ port, host: "127.0.0.1" });
  const line = await readLine(s, () => s.write("ping\n"), `TCP to ${port}`);
  return { ...(JSON.parse(line) as PodReply), peerFingerprint: null };
}

/** One line over a fresh TLS connection with this SNI, verifying the answer against `ca`. */
export async function askTls(port: number, servername: string, ca: string): Promise<L4Answer> {
  const s = tls.connect({ port, host: "127.0.0.1", servername, ca });
  let fp: string | null = null;
  const line = await readLine(
    s,
    () => {
      fp = s.getPeerX509Certificate()?.fingerprint256 ?? null;
      s.write("ping\n");
    },
    `TLS to ${port} (${servername})`,
  );
  return { ...(JSON.parse(line) as PodReply), peerFingerprint: fp };
}

/** One datagram from a fresh socket (a new client address each time); the pod's answer. */
export async function askUdp(port: number): Promise<L4Answer> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  try {
    const msg = await new Promise<Buffer>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`UDP to ${port}: no answer in ${ASK_TIMEOUT_MS} ms`)), ASK_TIMEOUT_MS);
      sock.once("message", (m) => {
        clearTimeout(t);
        res(m);
      });
      sock.send("ping\n", port, "127.0.0.1");
    });
    return { ...(JSON.parse(msg.toString()) as PodReply), peerFingerprint: null };
  } finally {
    sock.close();
  }
}

export interface L4Expectation {
  /** Pod name prefix (the Service name), as upstream's Backend. */
  backend: string;
  namespace: string;
  /** The pod saw TLS (passthrough) or plaintext (terminated by the gateway / plain TCP). */
  tls?: boolean;
  /** SNI the pod saw (passthrough); null: none. */
  sni?: string | null;
  /** Certificate the client must have been answered with. */
  fingerprint?: string;
}

export function compareL4(want: L4Expectation, got: L4Answer): string | null {
  if (!got.pod.startsWith(want.backend)) return `answered by pod ${got.pod}, expected ${want.backend}-*`;
  if (got.namespace !== want.namespace) return `answered from namespace ${got.namespace}, expected ${want.namespace}`;
  if (want.tls !== undefined && got.tls !== want.tls) return `backend saw ${got.tls ? "TLS" : "plaintext"}, expected ${want.tls ? "TLS" : "plaintext"}`;
  if (want.sni !== undefined && got.sni !== want.sni) return `backend saw SNI ${got.sni}, expected ${want.sni}`;
  if (want.fingerprint !== undefined && got.peerFingerprint !== want.fingerprint) return `answered with certificate ${got.peerFingerprint}, expected ${want.fingerprint}`;
  return null;
}

/** Asks until the answer matches twice in a row (the first match within 1.5 s); throws the last difference. */
export async function expectL4(ask: () => Promise<L4Answer>, want: L4Expectation, windowMs = 1500): Promise<L4Answer> {
  let got: L4Answer | undefined;
  await holdsInARow(async () => {
    try {
      return compareL4(want, (got = await ask()));
    } catch (err) {
      return (err as Error).message;
    }
  }, { windowMs });
  return got!;
}

/** How a TLS connection attempt with this SNI ended. */
export function tlsAttempt(port: number, servername: string): Promise<"handshake" | "rejected"> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: "127.0.0.1", servername, rejectUnauthorized: false });
    const t = setTimeout(() => done("rejected"), ASK_TIMEOUT_MS);
    const done = (r: "handshake" | "rejected"): void => {
      clearTimeout(t);
      s.destroy();
      resolve(r);
    };
    s.once("secureConnect", () => done("handshake"));
    s.once("error", () => done("rejected"));
    s.once("close", () => done("rejected"));
  });
}

/** Upstream's MakeTLSConnectionAndExpectEventuallyConnectionRejection: rejected twice in a row. */
export async function expectTlsRejected(port: number, servername: string, windowMs = 1500): Promise<void> {
  await holdsInARow(
    async () => ((await tlsAttempt(port, servername)) === "rejected" ? null : `TLS connection with SNI ${servername} to ${port} completed a handshake; expected it to be rejected`),
    { windowMs },
  );
}

/**
 * Weighted distribution over L4 connections (UDP: client addresses): `total` asks, 10 at a time;
 * each backend's share within 5 percentage points of its weight, none for weight 0. A few tries.
 */
export async function checkL4Weights(ask: () => Promise<L4Answer>, weights: Record<string, number>, total = 500, rounds = 3): Promise<void> {
  let last = "";
  for (let round = 0; round < rounds; round++) {
    const seen: Record<string, number> = {};
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const got = await ask();
        const backend = Object.keys(weights).find((b) => got.pod.startsWith(b + "-pod-")) ?? got.pod;
        seen[backend] = (seen[backend] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const errs: string[] = [];
    for (const b of Object.keys(seen)) if (!(b in weights) || weights[b] === 0) errs.push(`${b} got ${seen[b]} connections, expected none`);
    for (const [b, w] of Object.entries(weights)) {
      const got = (seen[b] ?? 0) / total;
      if (Math.abs(got - w) > 0.05) errs.push(`${b} got ${(got * 100).toFixed(1)}%, expected ${w * 100}% ± 5`);
    }
    if (errs.length === 0) return;
    last = `${errs.join("; ")} (counts ${JSON.stringify(seen)})`;
  }
  throw new Error(last);
}

/** SHA-256 fingerprint of a PEM certificate, as node:tls reports a peer's. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * The connection completes no exchange (closed, reset, or refused before an answer) twice in a row,
 * the first time within `windowMs`; throws with the answer that got through.
 */
export async function expectL4Refused(ask: () => Promise<L4Answer>, windowMs = 1500): Promise<void> {
  await holdsInARow(async () => {
    try {
      const got = await ask();
      return `expected the connection to be refused; it was answered by pod ${got.pod} (tls ${got.tls}, sni ${got.sni})`;
    } catch {
      return null;
    }
  }, { windowMs });
}
