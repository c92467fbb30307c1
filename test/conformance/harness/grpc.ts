// GRPCRoute and BackendTLSPolicy pieces of the harness: the gRPC and TLS backend "pods", a test CA
// (ConfigMaps tls-checks-ca-certificate and mismatch-ca-certificate, as the upstream suite creates),
// gRPC expectations in the style of upstream's grpc.ExpectedResponse, and the status checks for
// GRPCRoute parents and BackendTLSPolicy ancestors.
//
// Pod kinds ({{endpoint:NS/POD/KIND}}):
//   grpc       gRPC echo over h2c
//   grpc-tls   gRPC echo over TLS (h2), certificate signed by the test CA
//   https      HTTPS echo (HTTP/1.1), certificate signed by the test CA; records the SNI it got
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { holdsInARow } from "./eventually.js";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { GrpcEchoClient, startGrpcEchoServer, type GrpcEchoReply } from "../../../src/demo/grpc-echo.js";
import type { ConformanceEnv } from "./env.js";
import { eventually, find, hasCondition, latestGeneration, routeParents, type Cond, type Items, type NN } from "./status.js";

export type BackendTlsPodKind = "grpc" | "grpc-tls" | "https";

export function isBackendTlsPodKind(kind: string): kind is BackendTlsPodKind {
  return kind === "grpc" || kind === "grpc-tls" || kind === "https";
}

/** Names the TLS pods' certificate carries (those the upstream BackendTLSPolicy cases verify). */
const SERVER_DNS = ["abc.example.com", "other.example.com"];
const SERVER_URI = "spiffe://abc.example.com/test-identity";

interface TestCa {
  caPem: string;
  mismatchCaPem: string;
  certPem: string;
  keyPem: string;
}

let ca: TestCa | null = null;

/** The test CA and the pods' server certificate, made once per test process with openssl. */
export function testCa(): TestCa {
  if (ca) return ca;
  const dir = mkdtempSync(join(tmpdir(), "sluice-conf-ca-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=conformance backend CA");
    run("req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.crt", "-days", "2", "-subj", "/CN=unrelated CA");
    run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${SERVER_DNS[0]}`);
    writeFileSync(join(dir, "ext"), `subjectAltName=${SERVER_DNS.map((d) => `DNS:${d}`).join(",")},URI:${SERVER_URI}\n`);
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext");
    const r = (f: string): string => readFileSync(join(dir, f), "utf8");
    ca = { caPem: r("ca.crt"), mismatchCaPem: r("other.crt"), certPem: r("server.crt"), keyPem: r("server.key") };
    return ca;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configMap(ns: string, name: string, pem: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${ns}}
data:
  ca.crt: |
${pem.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}
`;
}

/** The CA ConfigMaps upstream's suite creates for the BackendTLSPolicy cases. */
export function caConfigMapsYaml(ns: string): string {
  const t = testCa();
  return `${configMap(ns, "tls-checks-ca-certificate", t.caPem)}---\n${configMap(ns, "mismatch-ca-certificate", t.mismatchCaPem)}`;
}

/** A Service whose every port leads to one pod (an EndpointSlice per Service). */
export function serviceYaml(ns: string, name: string, ports: { name?: string; port: number; appProtocol?: string }[], pod: string): string {
  const portLine = (p: { name?: string; port: number; appProtocol?: string }): string =>
    `  - {${p.name !== undefined ? `name: "${p.name}", ` : ""}protocol: TCP, port: ${p.port}${p.appProtocol ? `, appProtocol: ${p.appProtocol}` : ""}}`;
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ports:
${ports.map(portLine).join("\n")}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-slice, namespace: ${ns}, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports:
${ports.map((p) => `- {name: "${p.name ?? ""}", protocol: TCP, port: {{endpoint:${pod}}}}`).join("\n")}
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
`;
}

/** grpc-infra-backend-v1..v3 as upstream's base manifests have them (port 8080, one pod each). */
export function grpcBackendsYaml(ns: string): string {
  return [1, 2, 3].map((v) => serviceYaml(ns, `grpc-infra-backend-v${v}`, [{ port: 8080 }], `${ns}/grpc-infra-backend-v${v}-pod-0/grpc`)).join("---\n");
}

export async function startBackendTlsPod(kind: BackendTlsPodKind, id: { namespace: string; pod: string; service: string }): Promise<EchoServer> {
  if (kind === "https") {
    const t = testCa();
    return startEchoServer({ ...id, tls: { certPem: t.certPem, keyPem: t.keyPem } });
  }
  const s = await startGrpcEchoServer({ ...id, ...(kind === "grpc-tls" ? { tls: { certPem: testCa().certPem, keyPem: testCa().keyPem } } : {}) });
  // The environment keeps pods as echo servers; gRPC calls are not recorded there.
  return { port: s.port, host: "127.0.0.1", requests: [], close: () => s.close() };
}

// ---- gRPC expectations ----

export const ECHO_SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

export interface GrpcExpectation {
  method: "Echo" | "EchoTwo" | "EchoThree";
  /** :authority (upstream's RequestMetadata.Authority). */
  authority?: string;
  metadata?: Record<string, string>;
  /** Expected gRPC status; 0 (OK) when unset. */
  code?: number;
  /** Pod name prefix that must answer (OK only). */
  backend?: string;
  namespace?: string;
  /** Expect any failure (code != OK) instead of a given code. */
  anyFailure?: boolean;
  /** Metadata the backend must have seen (values in order; null: absent). Beyond upstream, which only logs these. */
  seen?: Record<string, string[] | null>;
}

export interface GrpcResult {
  code: number;
  details: string;
  reply: GrpcEchoReply | null;
}

export function grpcCaseName(e: GrpcExpectation, i: number): string {
  const md = e.metadata ? ` with metadata ${JSON.stringify(e.metadata)}` : "";
  const what = e.backend ? `should go to ${e.backend}` : e.anyFailure ? "should fail" : `should receive code ${e.code ?? 0}`;
  return `${i} request to '${e.authority ?? ""}/${ECHO_SERVICE}/${e.method}'${md} ${what}`;
}

/** One call on a fresh channel (no connection shared between cases). */
export function sendRpc(port: number, e: GrpcExpectation, timeoutMs = 3000): Promise<GrpcResult> {
  const opts: grpc.ChannelOptions = e.authority ? { "grpc.default_authority": e.authority } : {};
  const c = new GrpcEchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts);
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(e.metadata ?? {})) md.set(k, v);
  type Unary = (req: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: GrpcEchoReply) => void) => void;
  const fn = (c as unknown as Record<string, Unary>)[e.method]!.bind(c);
  return new Promise((resolve) => {
    fn({}, md, { deadline: Date.now() + timeoutMs }, (err, r) => {
      c.close();
      resolve(err ? { code: err.code, details: err.details, reply: null } : { code: 0, details: "", reply: r ?? null });
    });
  });
}

function compareRpc(e: GrpcExpectation, r: GrpcResult): string | null {
  if (e.anyFailure) return r.code !== 0 ? null : "expected a failure, got OK";
  const want = e.code ?? 0;
  if (r.code !== want) return `expected code ${want}, got ${r.code} (${r.details})`;
  if (want !== 0) return null;
  const got = r.reply;
  if (!got) return "no reply";
  if (got.method !== `/${ECHO_SERVICE}/${e.method}`) return `backend saw method ${got.method}`;
  if (e.namespace && got.namespace !== e.namespace) return `expected namespace ${e.namespace}, got ${got.namespace}`;
  if (e.backend && !got.pod.startsWith(e.backend)) return `expected pod ${e.backend}*, got ${got.pod}`;
  for (const [name, want] of Object.entries(e.seen ?? {})) {
    const values = got.headers[name.toLowerCase()];
    // A repeated header may arrive as one comma-joined value; compare the list of values.
    const have = values === undefined ? null : values.join(",").split(/,\s*/);
    if (JSON.stringify(have) !== JSON.stringify(want)) return `backend saw ${name}: ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`;
  }
  return null;
}

/** Upstream's MakeRequestAndExpectEventuallyConsistentResponse: converges within 1.5 s, then holds twice. */
export async function expectRpc(port: number, e: GrpcExpectation): Promise<GrpcResult> {
  let r: GrpcResult | undefined;
  await holdsInARow(async () => compareRpc(e, (r = await sendRpc(port, e)))).catch((err: Error) => {
    throw new Error(`${grpcCaseName(e, 0).replace(/^0 /, "")}: ${err.message}`);
  });
  return r!;
}

// ---- status ----

/** GatewayAndRoutesMustBeAccepted for GRPCRoutes (+ ResolvedRefs True unless `resolved` is false). */
export async function grpcRoutesMustBeAccepted(env: ConformanceEnv, gw: NN, routes: NN[], sectionNames: (string | undefined)[] = [undefined], resolved = true): Promise<void> {
  await eventually(env, (items) => {
    for (const r of routes) {
      const want = sectionNames.map((s) => ({
        parentRef: { name: gw.name, namespace: gw.namespace, ...(s ? { sectionName: s } : {}) },
        conditions: [{ type: "Accepted", status: "True" as const, reason: "Accepted" }, ...(resolved ? [{ type: "ResolvedRefs", status: "True" as const, reason: "ResolvedRefs" }] : [])],
      }));
      const d = routeParents(items, r, want, r.namespace !== gw.namespace, "GRPCRoute");
      if (d) return d;
    }
    return null;
  });
}

interface Ancestor {
  ancestorRef: { name: string; namespace?: string };
  conditions?: { type: string; status: string; reason: string; observedGeneration?: number }[];
}

/** BackendTLSPolicyMustHaveCondition: an ancestor entry for the Gateway carries the condition. */
export function policyCondition(items: Items, policy: NN, gw: NN, want: Cond): string | null {
  const p = find(items, "BackendTLSPolicy", policy);
  if (!p) return `BackendTLSPolicy ${policy.namespace}/${policy.name} not in /status`;
  const ancestors = (p.status as { ancestors?: Ancestor[] } | undefined)?.ancestors ?? [];
  for (const a of ancestors) {
    const d = latestGeneration(p, a.conditions);
    if (d) return d;
  }
  const mine = ancestors.filter((a) => a.ancestorRef.name === gw.name && (a.ancestorRef.namespace === undefined || a.ancestorRef.namespace === gw.namespace));
  if (mine.some((a) => hasCondition(a.conditions, want) === null)) return null;
  const shown = ancestors.map((a) => ({ ref: a.ancestorRef.name, c: (a.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`) }));
  return `BackendTLSPolicy ${policy.name}: no ancestor ${gw.name} with ${want.type}=${want.status ?? "*"}/${want.reason ?? "*"} (ancestors: ${JSON.stringify(shown)})`;
}

export async function policyMustHaveCondition(env: ConformanceEnv, policy: NN, gw: NN, want: Cond): Promise<void> {
  await eventually(env, (items) => policyCondition(items, policy, gw, want));
}

export const ACCEPTED: Cond = { type: "Accepted", status: "True", reason: "Accepted" };
export const RESOLVED: Cond = { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" };
