// BackendTrafficPolicy timeouts through a real gateway process: request timeout (504 naming it),
// connect timeout to an endpoint that never completes the handshake (504 naming it, for bodiless
// and bodied requests), the idle timeout closing pooled backend connections, and the maximum
// connection duration retiring them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY, until } from "../control/fixtures.js";
import { backendYaml, call, policyYaml, routeYaml, startBlackhole } from "./resilience-helpers.js";

let echo: EchoServer;
let hole: Awaited<ReturnType<typeof startBlackhole>>;
/** Counts the connections the gateway opens and closes, per server. */
let idleShort: http.Server;
let idleDefault: http.Server;
let aged: http.Server;
const conns = { short: { open: 0, closed: 0 }, dflt: { open: 0, closed: 0 }, aged: { open: 0, closed: 0 } };
let gw: GatewayProcess;
let port: number;

async function counting(which: { open: number; closed: number }): Promise<http.Server> {
  const s = http.createServer((_req, res) => res.end("ok"));
  // The backend keeps connections far longer than the gateway should.
  s.keepAliveTimeout = 60_000;
  s.on("connection", (sock: net.Socket) => {
    which.open++;
    sock.on("close", () => which.closed++);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return s;
}

const portOf = (s: http.Server): number => (s.address() as net.AddressInfo).port;

before(async () => {
  echo = await startEchoServer({ pod: "slow" });
  hole = await startBlackhole();
  idleShort = await counting(conns.short);
  idleDefault = await counting(conns.dflt);
  aged = await counting(conns.aged);
  port = await freePort();
  const files =
    CLASS_AND_GATEWAY(port) +
    "---\n" +
    backendYaml("slow", [echo.port]) +
    backendYaml("hole", [hole.port]) +
    backendYaml("idle-short", [portOf(idleShort)]) +
    backendYaml("idle-default", [portOf(idleDefault)]) +
    backendYaml("aged", [portOf(aged)]) +
    routeYaml("aged", "/aged", "aged") +
    policyYaml("aged", { kind: "Backend", name: "aged" }, "  timeout:\n    http: { maxConnectionDuration: 300ms }") +
    routeYaml("slow", "/slow", "slow") +
    policyYaml("slow", { kind: "HTTPRoute", name: "slow" }, "  timeout:\n    http: { requestTimeout: 300ms }") +
    routeYaml("hole", "/hole", "hole") +
    policyYaml("hole", { kind: "Backend", name: "hole" }, "  timeout:\n    tcp: { connectTimeout: 300ms }") +
    routeYaml("idle-short", "/idle-short", "idle-short") +
    policyYaml("idle-short", { kind: "Backend", name: "idle-short" }, "  timeout:\n    http: { connectionIdleTimeout: 300ms }") +
    routeYaml("idle-default", "/idle-default", "idle-default");
  gw = await GatewayProcess.start({ files: { "all.yaml": files } });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await hole?.close();
  for (const s of [idleShort, idleDefault, aged]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

test("request timeout: 504 at the timeout, and the body says which timeout fired", async () => {
  const r = await call(port, "/slow", { headers: { "x-echo-delay-ms": "3000" } });
  assert.equal(r.status, 504);
  assert.equal(r.body, "upstream request timeout after 300ms\n");
  assert.ok(r.ms >= 280 && r.ms < 2000, `answered after ${Math.round(r.ms)} ms`);
  // Under the timeout the answer passes.
  assert.equal((await call(port, "/slow", { headers: { "x-echo-delay-ms": "20" } })).status, 200);
});

test("connect timeout: an endpoint that never accepts gives 504 naming the connect timeout", async () => {
  for (const opts of [{}, { method: "POST", body: "x".repeat(100) }]) {
    const r = await call(port, "/hole", opts);
    assert.equal(r.status, 504, `${JSON.stringify(opts).slice(0, 20)}: ${r.body}`);
    assert.match(r.body, /^upstream connect timeout after 300ms \(127\.0\.0\.1:\d+\)\n$/);
    assert.ok(r.ms >= 280 && r.ms < 3000, `answered after ${Math.round(r.ms)} ms`);
  }
});

test("idle timeout: pooled connections to the backend close after connectionIdleTimeout, not the default", async () => {
  assert.equal((await call(port, "/idle-short")).status, 200);
  assert.equal((await call(port, "/idle-default")).status, 200);
  assert.equal(conns.short.open, 1);
  assert.equal(conns.dflt.open, 1);
  const t0 = Date.now();
  // 300 ms idle, checked by the pool's once-a-second sweep.
  await until("the short-idle connection to close", 3_000, async () => conns.short.closed === 1);
  assert.ok(Date.now() - t0 < 2_500);
  assert.equal(conns.dflt.closed, 0, "the default idle timeout (4 s) keeps the other connection");
  // The next request opens a new connection.
  assert.equal((await call(port, "/idle-short")).status, 200);
  assert.equal(conns.short.open, 2);
});

test("maxConnectionDuration: a connection older than the limit is not reused", async () => {
  assert.equal((await call(port, "/aged")).status, 200);
  assert.equal((await call(port, "/aged")).status, 200);
  assert.equal(conns.aged.open, 1, "young enough: reused");
  await new Promise((r) => setTimeout(r, 450));
  assert.equal((await call(port, "/aged")).status, 200);
  assert.equal(conns.aged.open, 2, "past 300 ms: a new connection");
  await until("the retired connection to close", 2_000, async () => conns.aged.closed >= 1);
});
