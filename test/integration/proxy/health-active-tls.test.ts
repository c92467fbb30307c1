// Active health checks against TLS backends (BackendTLSPolicy on the Backend): the HTTP and gRPC
// probes connect with the cluster's TLS settings (the policy's CA, hostname as SNI and identity).
// The backends speak TLS only, so a plaintext probe, or one that failed verification, would mark
// every endpoint unhealthy; instead the endpoint whose health path fails leaves rotation and comes
// back when it passes again.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { grpcEchoDefinition } from "../../../src/demo/grpc-echo.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { unary } from "./grpc-helpers.js";
import { backendYaml, eventually, GATEWAY, hit, policyYaml, routeYaml, tally } from "./lb-helpers.js";

interface Pki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A test CA and a server certificate for backend.test, made with openssl. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "sluice-hc-tls-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore", timeout: 10_000 });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=health test CA");
    run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=backend.test");
    writeFileSync(join(dir, "ext"), "subjectAltName=DNS:backend.test\n");
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext");
    const r = (f: string): string => readFileSync(join(dir, f), "utf8");
    return { caPem: r("ca.crt"), certPem: r("server.crt"), keyPem: r("server.key") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let gw: GatewayProcess;
let port: number;
let grpcPort: number;
let pki: Pki;
const web: { pod: string; server: EchoServer; health: number; sni: string[] }[] = [];
const g: { pod: string; status: number; server: grpc.Server; port: number }[] = [];
const be = (name: string) => `{ group: sluice.dev, kind: Backend, name: ${name} }`;

async function httpsBackend(pod: string): Promise<(typeof web)[number]> {
  const e = { pod, server: null as unknown as EchoServer, health: 200, sni: [] as string[] };
  e.server = await startEchoServer({
    pod,
    tls: { certPem: pki.certPem, keyPem: pki.keyPem },
    intercept: (rec, req, res) => {
      if (rec.path !== "/healthz") return false;
      e.sni.push((req.socket as import("node:tls").TLSSocket).servername || "");
      res.writeHead(e.health, { "content-type": "text/plain" });
      res.end(e.health === 200 ? "ok" : "sick");
      return true;
    },
  });
  return e;
}

/** gRPC over TLS with the echo service and the standard health service. */
async function grpcTlsBackend(pod: string): Promise<(typeof g)[number]> {
  const entry = { pod, status: 1, server: new grpc.Server(), port: 0 };
  entry.server.addService(grpcEchoDefinition, {
    Echo: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { pod }),
  });
  const health: grpc.ServiceDefinition = {
    Check: {
      path: "/grpc.health.v1.Health/Check",
      requestStream: false,
      responseStream: false,
      requestDeserialize: (b: Buffer) => b,
      requestSerialize: (b: Buffer) => b,
      // HealthCheckResponse { enum status = 1 }
      responseSerialize: (status: number) => Buffer.from([0x08, status]),
      responseDeserialize: (b: Buffer) => b[1] ?? 0,
    },
  };
  entry.server.addService(health, { Check: (_call: grpc.ServerUnaryCall<Buffer, number>, cb: grpc.sendUnaryData<number>) => cb(null, entry.status) });
  const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(pki.keyPem), cert_chain: Buffer.from(pki.certPem) }], false);
  entry.port = await new Promise<number>((res, rej) => entry.server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? rej(err) : res(p))));
  return entry;
}

const tlsPolicy = (name: string, backend: string): string => `---
apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}-ca, namespace: default }
data:
  ca.crt: ${JSON.stringify(pki.caPem)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: sluice.dev, kind: Backend, name: ${backend} }]
  validation:
    caCertificateRefs: [{ group: "", kind: ConfigMap, name: ${name}-ca }]
    hostname: backend.test
`;

before(async () => {
  pki = makePki();
  web.push(await httpsBackend("s0"), await httpsBackend("s1"));
  g.push(await grpcTlsBackend("g0"), await grpcTlsBackend("g1"));
  port = await freePort();
  grpcPort = await freePort();
  const active = (spec: string) => `  healthCheck:\n    active: { interval: 100ms, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 2, ${spec} }\n`;
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml": backendYaml("secure", web.map((x) => ({ port: x.server.port }))) + backendYaml("grpc", g.map((x) => ({ port: x.port }))),
      "tls.yaml": tlsPolicy("secure-tls", "secure") + tlsPolicy("grpc-tls", "grpc"),
      "routes.yaml":
        routeYaml("secure", "/secure", be("secure")) +
        `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw-grpc, namespace: default }
spec:
  gatewayClassName: sluice
  listeners: [{ name: grpc, port: ${grpcPort}, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: grpc, namespace: default }
spec:
  parentRefs: [{ name: gw-grpc }]
  rules: [{ backendRefs: [${be("grpc")}] }]
`,
      "policies.yaml":
        policyYaml("secure", be("secure"), active("type: HTTP, http: { path: /healthz, expectedStatuses: [200] }")) +
        policyYaml("grpc", be("grpc"), active("type: GRPC, grpc: {}")),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const s of web) await s.server.close();
  for (const x of g) x.server.forceShutdown();
});

test("HTTP health check over TLS: probes carry the policy's SNI; a failing endpoint leaves rotation and comes back", async () => {
  await eventually("both TLS endpoints serve", async () => (await tally(port, "/secure", 12)).size === 2);
  for (const w of web) {
    assert.ok(w.sni.length > 0, `${w.pod} was probed over TLS`);
    assert.ok(w.sni.every((s) => s === "backend.test"), `${w.pod} saw SNI ${[...new Set(w.sni)].join(", ")}`);
  }
  web[1]!.health = 503;
  await eventually("s1 out of rotation", async () => {
    const c = await tally(port, "/secure", 12);
    return c.size === 1 && c.get("s0") === 12;
  });
  web[1]!.health = 200;
  await eventually("s1 back", async () => (await tally(port, "/secure", 12)).has("s1"));
});

test("HTTP health check over TLS: every endpoint failing its health path gives 503 naming the check", async () => {
  web[0]!.health = 500;
  web[1]!.health = 500;
  try {
    await eventually("both out", async () => (await hit(port, "/secure")).status === 503);
    assert.match((await hit(port, "/secure")).body, /failing active health checks .*HTTP 500 from GET \/healthz/);
  } finally {
    web[0]!.health = 200;
    web[1]!.health = 200;
  }
  await eventually("both back", async () => (await tally(port, "/secure", 12)).size === 2);
});

test("gRPC health check over TLS: NOT_SERVING takes an endpoint out, SERVING brings it back", async () => {
  const pods = async (n: number): Promise<Set<string>> => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await unary(grpcPort, "Echo", {});
      assert.equal(r.code, 0, r.details);
      out.add(r.reply!.pod);
    }
    return out;
  };
  await eventually("both gRPC TLS endpoints serve", async () => (await pods(8)).size === 2);
  g[1]!.status = 2; // NOT_SERVING
  await eventually("g1 out of rotation", async () => {
    const p = await pods(8);
    return p.size === 1 && p.has("g0");
  });
  g[1]!.status = 1;
  await eventually("g1 back", async () => (await pods(8)).has("g1"));
});
