// Circuit breaker through a real gateway process: maxParallelRequests overflow answered 503 at once
// with the marker header and counted; maxConnections holding the backend's concurrent connections
// down while maxPendingRequests queue and overflow; and the defaults letting 2000 concurrent
// requests to a slow backend through.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY } from "../control/fixtures.js";
import { backendYaml, call, metricSum, policyYaml, routeYaml } from "./resilience-helpers.js";

let slow: EchoServer;
/** A slow backend that records how many requests it holds at once. */
let bulk: http.Server;
let bulkInFlight = 0;
let bulkPeak = 0;
let bulkServed = 0;
/** Counts concurrent connections from the gateway. */
let counted: http.Server;
let live = 0;
let peak = 0;
let gw: GatewayProcess;
let port: number;

before(async () => {
  slow = await startEchoServer({ pod: "slow" });
  bulk = http.createServer((_req, res) => {
    bulkPeak = Math.max(bulkPeak, ++bulkInFlight);
    setTimeout(() => {
      bulkInFlight--;
      bulkServed++;
      res.end("ok");
    }, 1000);
  });
  bulk.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => bulk.listen(0, "127.0.0.1", () => r()));
  counted = http.createServer((_req, res) => setTimeout(() => res.end("ok"), 300));
  counted.keepAliveTimeout = 60_000;
  counted.on("connection", (s: net.Socket) => {
    peak = Math.max(peak, ++live);
    s.on("close", () => live--);
  });
  await new Promise<void>((r) => counted.listen(0, "127.0.0.1", () => r()));
  port = await freePort();
  const files =
    CLASS_AND_GATEWAY(port) +
    "---\n" +
    backendYaml("slow", [slow.port]) +
    backendYaml("bulk", [(bulk.address() as net.AddressInfo).port]) +
    backendYaml("counted", [(counted.address() as net.AddressInfo).port]) +
    routeYaml("parallel", "/parallel", "slow") +
    policyYaml("slow-breaker", { kind: "Backend", name: "slow" }, "  circuitBreaker: { maxParallelRequests: 5 }") +
    routeYaml("conns", "/conns", "counted") +
    policyYaml("conns", { kind: "HTTPRoute", name: "conns" }, "  circuitBreaker: { maxConnections: 2, maxPendingRequests: 3 }") +
    routeYaml("bulk", "/bulk", "bulk");
  gw = await GatewayProcess.start({ files: { "all.yaml": files } });
});

after(async () => {
  await gw?.stop();
  await slow?.close();
  bulk?.closeAllConnections();
  await new Promise((r) => bulk?.close(r));
  counted?.closeAllConnections();
  await new Promise((r) => counted?.close(r));
});

async function overflowCount(limit: string): Promise<number> {
  const text = await (await fetch(gw.admin("/metrics"))).text();
  return metricSum(text, "sluice_upstream_overflow_total", { route: "httproute/default/parallel/rule/0/match/0", limit });
}

test("maxParallelRequests: requests over the limit get 503 at once, marked and counted", async () => {
  const before = await overflowCount("max_parallel_requests");
  const replies = await Promise.all(Array.from({ length: 20 }, () => call(port, "/parallel", { headers: { "x-echo-delay-ms": "600" } })));
  const ok = replies.filter((r) => r.status === 200);
  const over = replies.filter((r) => r.status === 503);
  assert.equal(ok.length, 5, `statuses: ${replies.map((r) => r.status).join(",")}`);
  assert.equal(over.length, 15);
  for (const r of over) {
    assert.equal(r.headers["x-sluice-overflow"], "circuit-breaker");
    assert.match(r.body, /^upstream overflow: circuit breaker max_parallel_requests \(5\) reached for backend\/default\/slow/);
    assert.ok(r.ms < 500, `the overflow answer did not wait for the backend (${Math.round(r.ms)} ms)`);
  }
  for (const r of ok) assert.equal(r.headers["x-sluice-overflow"], undefined, "backend answers carry no marker");
  assert.equal((await overflowCount("max_parallel_requests")) - before, 15);
  // A backend's own 503 is passed on unmarked.
  const own = await call(port, "/parallel", { headers: { "x-echo-status": "503" } });
  assert.equal(own.status, 503);
  assert.equal(own.headers["x-sluice-overflow"], undefined);
});

test("maxConnections + maxPendingRequests: at most 2 connections busy, 3 wait, the rest overflow", async () => {
  peak = 0;
  const replies = await Promise.all(Array.from({ length: 10 }, () => call(port, "/conns")));
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 503, 503, 503, 503, 503], statuses.join(","));
  for (const r of replies.filter((x) => x.status === 503)) {
    assert.equal(r.headers["x-sluice-overflow"], "circuit-breaker");
    assert.match(r.body, /max_pending_requests \(3\)/);
  }
  assert.ok(peak <= 2, `the backend saw ${peak} concurrent connections`);
  // The queued ones were served after the first two, in about three rounds of 300 ms.
  const slowest = Math.max(...replies.filter((r) => r.status === 200).map((r) => r.ms));
  assert.ok(slowest >= 850, `queued requests waited for a connection (${Math.round(slowest)} ms)`);
});

test("defaults: 2000 concurrent requests to a slow backend are all served, none refused", async () => {
  const N = 2000;
  const t0 = performance.now();
  const replies = await Promise.all(Array.from({ length: N }, () => call(port, "/bulk", { timeoutMs: 30_000 })));
  const ms = performance.now() - t0;
  const bad = replies.filter((r) => r.status !== 200);
  assert.equal(bad.length, 0, `${bad.length} failed: ${bad.slice(0, 3).map((r) => `${r.status} ${r.body}`).join(" | ")}`);
  assert.ok(replies.every((r) => r.headers["x-sluice-overflow"] === undefined));
  assert.equal(bulkServed, N);
  // No hidden pool size holds them back either: the backend held far more than any small default at once.
  assert.ok(bulkPeak > 1000, `the backend held at most ${bulkPeak} requests at once`);
  const text = await (await fetch(gw.admin("/metrics"))).text();
  assert.equal(metricSum(text, "sluice_upstream_overflow_total", { route: "httproute/default/bulk/rule/0/match/0" }), 0);
  assert.ok(ms < 20_000, `${N} requests took ${Math.round(ms)} ms`);
});
