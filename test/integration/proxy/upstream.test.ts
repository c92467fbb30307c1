// Upstream behaviour over real sockets: errors, timeouts, retries, h2c, WebSocket, unix sockets.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import type { IrCluster, IrListener } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

let echo: EchoServer;
let h2echo: EchoServer;
let flaky: http.Server;
let flakyHits = 0;
let flakyPort: number;
let deadPort: number;
let port: number;
let dp: ProxyDataPlane;
let sockDir: string;
let unixServer: http.Server;

before(async () => {
  echo = await startEchoServer({ pod: "e" });
  h2echo = await startEchoServer({ pod: "h2", h2c: true });
  // Answers 503 to every other request: first attempt fails, the retry succeeds.
  flaky = http.createServer((req, res) => {
    flakyHits++;
    req.resume();
    if (flakyHits % 2 === 1) {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("try again");
    } else {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`ok after ${flakyHits}`);
    }
  });
  await new Promise<void>((r) => flaky.listen(0, "127.0.0.1", () => r()));
  flakyPort = (flaky.address() as { port: number }).port;
  deadPort = await freePort();
  sockDir = mkdtempSync(join(tmpdir(), "sluice-proxy-"));
  unixServer = http.createServer((req, res) => res.end(`unix ${req.url}`));
  await new Promise<void>((r) => unixServer.listen(join(sockDir, "s.sock"), () => r()));
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
});

after(async () => {
  await dp.close();
  agent.destroy();
  await Promise.all([echo.close(), h2echo.close(), new Promise((r) => flaky.close(r)), new Promise((r) => unixServer.close(r))]);
  rmSync(sockDir, { recursive: true, force: true });
});

function clusters(): IrCluster[] {
  return [
    cluster("echo", [echo]),
    cluster("h2", [h2echo], "h2c"),
    { name: "flaky", protocol: "http1", endpoints: [{ address: "127.0.0.1", port: flakyPort, weight: 1 }] },
    { name: "dead", protocol: "http1", endpoints: [{ address: "127.0.0.1", port: deadPort, weight: 1 }] },
    {
      name: "half-dead",
      protocol: "http1",
      endpoints: [
        { address: "127.0.0.1", port: deadPort, weight: 1 },
        { address: "127.0.0.1", port: echo.port, weight: 1 },
      ],
    },
    { name: "unix", protocol: "http1", endpoints: [{ path: join(sockDir, "s.sock"), weight: 1 }] },
  ];
}

async function apply(l: IrListener): Promise<void> {
  const res = await dp.apply(snapshot([l], clusters()));
  assert.ok(res.every((r) => r.ok), JSON.stringify(res));
}

test("connect failure is 503 (as Envoy answers); the worker keeps serving", async () => {
  await apply(listener(port, [gateway([route({ path: { type: "PathPrefix", value: "/dead" } }, forward("dead")), route({}, forward("echo"))])]));
  const r = await request(port, "/dead");
  assert.equal(r.status, 503);
  assert.match(r.body, /upstream/);
  // The same for an upgrade request.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/dead/ws`, { headers: { host: "example.com" } });
  const status = await new Promise<number>((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("open", () => reject(new Error("upgraded to a dead backend")));
    ws.once("error", () => {});
    setTimeout(() => reject(new Error("ws timeout")), 3000);
  });
  ws.terminate();
  assert.equal(status, 503);
  assert.equal((await request(port, "/ok")).status, 200);
});

test("backendRequest and request timeouts answer 504", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/attempt" } }, forward("echo"), { timeouts: { backendRequestMs: 150 } }),
        route({ path: { type: "PathPrefix", value: "/whole" } }, forward("echo"), { timeouts: { requestMs: 150 } }),
      ]),
    ]),
  );
  const t0 = Date.now();
  const r1 = await request(port, "/attempt", { headers: { "x-echo-delay-ms": "1000" } });
  assert.equal(r1.status, 504);
  assert.match(r1.body, /timeout/);
  assert.ok(Date.now() - t0 < 900);
  const r2 = await request(port, "/whole", { headers: { "x-echo-delay-ms": "1000" } });
  assert.equal(r2.status, 504);
  const fast = await request(port, "/attempt");
  assert.equal(fast.status, 200);
});

test("retries on listed codes (replaying a small body) and on connect failures", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/flaky" } }, forward("flaky"), { retry: { attempts: 2, codes: [503], backoffMs: 5 } }),
        route({ path: { type: "PathPrefix", value: "/noretry" } }, forward("flaky")),
        route({ path: { type: "PathPrefix", value: "/half" } }, forward("half-dead"), { retry: { attempts: 1, codes: [], backoffMs: 1 } }),
        route({ path: { type: "PathPrefix", value: "/half-noretry" } }, forward("half-dead")),
      ]),
    ]),
  );
  flakyHits = 0;
  for (let i = 0; i < 3; i++) {
    const r = await request(port, "/flaky", { method: "PUT", body: "abc" });
    assert.equal(r.status, 200, r.body);
  }
  assert.equal(flakyHits, 6);
  flakyHits = 0;
  const codes = new Set<number>();
  for (let i = 0; i < 4; i++) codes.add((await request(port, "/noretry")).status);
  assert.deepEqual([...codes].sort(), [200, 503]);
  for (let i = 0; i < 10; i++) assert.equal((await request(port, "/half")).status, 200);
  const noRetry = new Set<number>();
  for (let i = 0; i < 6; i++) noRetry.add((await request(port, "/half-noretry")).status);
  assert.ok(noRetry.has(503));
});

test("h2c backend, unix socket endpoint, large streamed bodies both ways", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/h2" } }, forward("h2")),
        route({ path: { type: "PathPrefix", value: "/unix" } }, forward("unix")),
        route({}, forward("echo")),
      ]),
    ]),
  );
  const r = await request(port, "/h2/x", { headers: { "x-test": "1" } });
  assert.equal(r.status, 200);
  const e = r.json<EchoResponse>();
  assert.equal(e.proto, "HTTP/2.0");
  assert.equal(e.pod, "h2");
  assert.equal(e.host, "example.com");
  const post = await request(port, "/h2/post", { method: "POST", body: "hello h2" });
  assert.equal(post.json<EchoResponse>().body, "hello h2");
  assert.equal((await request(port, "/unix/p")).body, "unix /unix/p");
  const big = await request(port, "/big", { headers: { "x-echo-body-bytes": String(3 * 1024 * 1024) } });
  assert.equal(big.body.length, 3 * 1024 * 1024);
  const upload = "y".repeat(2 * 1024 * 1024);
  const up = await request(port, "/upload", { method: "PUT", body: upload });
  assert.equal(up.json<EchoResponse>().body.length, upload.length);
});

test("WebSocket upgrade round-trip through the proxy", async () => {
  await apply(listener(port, [gateway([route({}, forward("echo"))])]));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: "example.com" } });
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once("open", () => ws.send("ping"));
    ws.once("message", (d) => resolve(String(d)));
    ws.once("error", reject);
    setTimeout(() => reject(new Error("ws timeout")), 3000);
  });
  ws.close();
  assert.equal(reply, "e: ping");
  const seen = echo.requests.filter((r) => r.path === "/chat").pop()!;
  assert.deepEqual(seen.headers["x-forwarded-proto"], ["http"]);
});

test("HTTP/2 cleartext backend session survives the backend restarting (reconnect)", async () => {
  // A one-off h2c server that closes its session after each stream (GOAWAY).
  const s = http2.createServer();
  s.on("stream", (st) => {
    st.respond({ ":status": 200 });
    st.end("once");
    st.session?.close();
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const p = (s.address() as { port: number }).port;
  const res = await dp.apply(
    snapshot(
      [listener(port, [gateway([route({}, forward("g"))])])],
      [...clusters(), { name: "g", protocol: "h2c", endpoints: [{ address: "127.0.0.1", port: p, weight: 1 }] }],
    ),
  );
  assert.ok(res[0]!.ok);
  for (let i = 0; i < 3; i++) {
    const r = await request(port, "/");
    assert.equal(r.status, 200);
    assert.equal(r.body, "once");
    await new Promise((r2) => setTimeout(r2, 20));
  }
  await new Promise((r) => s.close(r));
});
