// Active health checks through a real gateway process: HTTP (path, expected status), TCP (send /
// receive payloads) and the gRPC health protocol (grpc.health.v1.Health/Check against a
// @grpc/grpc-js server) each take a failing endpoint out of rotation and bring it back; with every
// endpoint unhealthy the gateway answers 503 saying so.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { grpcEchoDefinition } from "../../../src/demo/grpc-echo.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { unary } from "./grpc-helpers.js";
import { backendYaml, eventually, GATEWAY, hit, policyYaml, routeYaml, steeredEcho, tally, type Steered } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
/** gRPC gets its own Gateway: an HTTPRoute and a GRPCRoute cannot share a hostname on one listener. */
let grpcPort: number;
const web: Steered[] = [];
const tcp: Steered[] = [];
let tcpDownPort = 0;
const g: { pod: string; status: number; server: grpc.Server; port: number }[] = [];
const be = (name: string) => `{ group: sluice.dev, kind: Backend, name: ${name} }`;

/** A gRPC server with the echo service (answering its pod name) and the standard health service. */
async function grpcBackend(pod: string): Promise<(typeof g)[number]> {
  const entry = { pod, status: 1, server: new grpc.Server(), port: 0 };
  entry.server.addService(grpcEchoDefinition, {
    Echo: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { pod }),
  });
  const health: grpc.ServiceDefinition = {
    Check: {
      path: "/grpc.health.v1.Health/Check",
      requestStream: false,
      responseStream: false,
      // HealthCheckRequest { string service = 1 } / HealthCheckResponse { enum status = 1 }
      requestDeserialize: (b: Buffer) => (b.length > 2 && b[0] === 0x0a ? b.subarray(2, 2 + b[1]!).toString() : ""),
      requestSerialize: (s: string) => Buffer.from(s),
      responseSerialize: (status: number) => Buffer.from([0x08, status]),
      responseDeserialize: (b: Buffer) => b[1] ?? 0,
    },
  };
  entry.server.addService(health, {
    Check: (call: grpc.ServerUnaryCall<string, number>, cb: grpc.sendUnaryData<number>) => {
      if (call.request !== "" && call.request !== "test.Service") return cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
      cb(null, entry.status);
    },
  });
  entry.port = await new Promise<number>((res, rej) => entry.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  return entry;
}

before(async () => {
  web.push(await steeredEcho("w0"), await steeredEcho("w1"));
  tcp.push(await steeredEcho("t0"), await steeredEcho("t1"));
  tcpDownPort = tcp[1]!.server.port;
  g.push(await grpcBackend("g0"), await grpcBackend("g1"));
  port = await freePort();
  grpcPort = await freePort();
  const active = (spec: string) => `  healthCheck:\n    active: { interval: 100ms, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 2, ${spec} }\n`;
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml":
        backendYaml("web", web.map((x) => ({ port: x.server.port }))) +
        backendYaml("tcp", tcp.map((x) => ({ port: x.server.port }))) +
        backendYaml("grpc", g.map((x) => ({ port: x.port }))),
      "routes.yaml":
        routeYaml("web", "/web", be("web")) +
        routeYaml("tcp", "/tcp", be("tcp")) +
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
        policyYaml("web", be("web"), active("type: HTTP, http: { path: /healthz, expectedStatuses: [200] }")) +
        policyYaml("tcp", be("tcp"), active('type: TCP, tcp: { send: { type: Text, text: "GET /healthz HTTP/1.0\\r\\n\\r\\n" }, receive: { type: Text, text: " 200 " } }')) +
        policyYaml("grpc", be("grpc"), active('type: GRPC, grpc: { service: test.Service }')),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const s of [...web, ...tcp]) await s.server.close();
  for (const x of g) x.server.forceShutdown();
});

async function only(path: string, pod: string): Promise<boolean> {
  const c = await tally(port, path, 12);
  return c.size === 1 && c.get(pod) === 12;
}

test("HTTP health check: an endpoint failing its health path gets no traffic, and comes back when it passes", async () => {
  assert.deepEqual([...(await tally(port, "/web", 10)).keys()].sort(), ["w0", "w1"]);
  web[1]!.healthStatus = 503;
  await eventually("w1 out of rotation", () => only("/web", "w0"));
  web[1]!.healthStatus = 200;
  await eventually("w1 back", async () => (await tally(port, "/web", 10)).has("w1"));
});

test("all endpoints unhealthy: 503 with a body that says why", async () => {
  web[0]!.healthStatus = 500;
  web[1]!.healthStatus = 503;
  try {
    await eventually("both out", async () => (await hit(port, "/web")).status === 503);
    const r = await hit(port, "/web");
    assert.equal(r.status, 503);
    assert.match(r.body, /^no healthy upstream: all 2 endpoints of backend\/default\/web are unhealthy: 2 failing active health checks \(127\.0\.0\.1:\d+: HTTP 50[03] from GET \/healthz \(expected 200\)\)\n$/);
  } finally {
    web[0]!.healthStatus = 200;
    web[1]!.healthStatus = 200;
  }
  await eventually("both back", async () => (await tally(port, "/web", 10)).size === 2);
});

test("TCP health check (send/receive payloads): a closed endpoint is taken out, and back once it listens again", async () => {
  assert.equal((await tally(port, "/tcp", 10)).size, 2);
  await tcp[1]!.server.close();
  await eventually("t1 out of rotation", () => only("/tcp", "t0"));
  // Healthy again on the same port.
  tcp[1]!.server = await startEchoServer({ pod: "t1", port: tcpDownPort, intercept: (rec, _req, res) => {
    res.writeHead(200, { "content-type": rec.path === "/healthz" ? "text/plain" : "application/json" });
    res.end(rec.path === "/healthz" ? "ok" : JSON.stringify({ pod: "t1" }));
    return true;
  } });
  await eventually("t1 back", async () => (await tally(port, "/tcp", 10)).has("t1"));
});

test("gRPC health check: NOT_SERVING takes an endpoint out, SERVING brings it back", async () => {
  const pods = async (n: number): Promise<Set<string>> => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await unary(grpcPort, "Echo", {});
      assert.equal(r.code, 0, r.details);
      out.add(r.reply!.pod);
    }
    return out;
  };
  assert.equal((await pods(8)).size, 2);
  g[1]!.status = 2; // NOT_SERVING
  await eventually("g1 out of rotation", async () => {
    const p = await pods(8);
    return p.size === 1 && p.has("g0");
  });
  g[1]!.status = 1;
  await eventually("g1 back", async () => (await pods(8)).has("g1"));
});
