// BackendTrafficPolicy retries through a real gateway process and misbehaving backends on
// 127.0.0.1: each trigger (5xx, listed status codes, reset, connect-failure), numRetries counted at
// the backend, backoff observed, per-try timeout, POST not repeated once it reached the backend
// (unless retryNonIdempotent), and the retry budget holding retries down during an outage.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY } from "../control/fixtures.js";
import { backendYaml, call, deadPort, metricSum, policyYaml, routeYaml, startFlaky, type FlakyBackend } from "./resilience-helpers.js";

let flaky: FlakyBackend;
let outage: FlakyBackend;
let good: EchoServer;
let gw: GatewayProcess;
let port: number;

const retry = (body: string): string => `  retry:\n${body.replace(/^/gm, "    ")}`;

before(async () => {
  flaky = await startFlaky("flaky");
  outage = await startFlaky("outage");
  good = await startEchoServer({ pod: "good" });
  const dead = await deadPort();
  port = await freePort();
  const files =
    CLASS_AND_GATEWAY(port) +
    "---\n" +
    backendYaml("flaky", [flaky.port]) +
    backendYaml("outage", [outage.port]) +
    backendYaml("outage-unbudgeted", [outage.port]) +
    backendYaml("half-dead", [dead, good.port]) +
    routeYaml("r5xx", "/r5xx", "flaky") +
    policyYaml("r5xx", { kind: "HTTPRoute", name: "r5xx" }, retry("numRetries: 3\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 5ms } }")) +
    routeYaml("codes", "/codes", "flaky") +
    policyYaml("codes", { kind: "HTTPRoute", name: "codes" }, retry("numRetries: 2\nretryOn: { triggers: [retriable-status-codes], httpStatusCodes: [418] }\nperRetry: { backOff: { baseInterval: 5ms } }")) +
    routeYaml("reset", "/reset", "flaky") +
    policyYaml("reset", { kind: "HTTPRoute", name: "reset" }, retry("numRetries: 2\nretryOn: { triggers: [reset] }\nperRetry: { backOff: { baseInterval: 5ms } }")) +
    routeYaml("connect", "/connect", "half-dead") +
    policyYaml("connect", { kind: "HTTPRoute", name: "connect" }, retry("numRetries: 2\nretryOn: { triggers: [connect-failure] }\nperRetry: { backOff: { baseInterval: 5ms } }")) +
    routeYaml("noretry", "/noretry", "half-dead") +
    routeYaml("backoff", "/backoff", "flaky") +
    policyYaml("backoff", { kind: "HTTPRoute", name: "backoff" }, retry("numRetries: 3\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 100ms, maxInterval: 300ms } }")) +
    routeYaml("pertry", "/pertry", "flaky") +
    policyYaml("pertry", { kind: "HTTPRoute", name: "pertry" }, retry("numRetries: 2\nretryOn: { triggers: [reset] }\nperRetry: { timeout: 200ms, backOff: { baseInterval: 5ms } }")) +
    routeYaml("post", "/post", "flaky") +
    policyYaml("post", { kind: "HTTPRoute", name: "post" }, retry("numRetries: 2\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 5ms } }")) +
    routeYaml("post-allowed", "/post-allowed", "flaky") +
    policyYaml("post-allowed", { kind: "HTTPRoute", name: "post-allowed" }, retry("numRetries: 2\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 5ms } }\nretryNonIdempotent: true")) +
    routeYaml("budget", "/budget", "outage") +
    policyYaml("budget", { kind: "HTTPRoute", name: "budget" }, retry("numRetries: 3\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 20ms } }")) +
    policyYaml("outage-budget", { kind: "Backend", name: "outage" }, "  circuitBreaker:\n    retryBudget: { budgetPercent: 20, minRetryConcurrency: 2 }") +
    routeYaml("unbudgeted", "/unbudgeted", "outage-unbudgeted") +
    policyYaml("unbudgeted", { kind: "HTTPRoute", name: "unbudgeted" }, retry("numRetries: 3\nretryOn: { triggers: [5xx] }\nperRetry: { backOff: { baseInterval: 20ms } }")) +
    policyYaml("outage-no-budget", { kind: "Backend", name: "outage-unbudgeted" }, "  circuitBreaker:\n    retryBudget: { budgetPercent: 100, minRetryConcurrency: 1000 }");
  gw = await GatewayProcess.start({ files: { "all.yaml": files } });
});

after(async () => {
  await gw?.stop();
  await flaky?.close();
  await outage?.close();
  await good?.close();
});

function steer(fail: number, mode: string): { id: string; headers: Record<string, string> } {
  const id = randomUUID();
  return { id, headers: { "x-id": id, "x-fail": String(fail), "x-mode": mode } };
}

test("5xx: retried until an attempt succeeds; numRetries caps the attempts exactly", async () => {
  const ok = steer(2, "500");
  const r = await call(port, "/r5xx", { headers: ok.headers });
  assert.equal(r.status, 200, r.body);
  assert.equal(flaky.attemptsOf(ok.id).length, 3);

  const down = steer(10, "502");
  const d = await call(port, "/r5xx", { headers: down.headers });
  assert.equal(d.status, 502, "the last backend answer is passed on");
  assert.equal(d.body, "failing attempt 4");
  assert.equal(flaky.attemptsOf(down.id).length, 4, "1 attempt + numRetries 3");
});

test("retriable-status-codes: only the listed codes are retried", async () => {
  const teapot = steer(1, "418");
  assert.equal((await call(port, "/codes", { headers: teapot.headers })).status, 200);
  assert.equal(flaky.attemptsOf(teapot.id).length, 2);
  const five = steer(1, "500");
  assert.equal((await call(port, "/codes", { headers: five.headers })).status, 500);
  assert.equal(flaky.attemptsOf(five.id).length, 1);
});

test("reset: connection resets and closes before the response are retried, statuses are not", async () => {
  for (const mode of ["reset", "close"]) {
    const s = steer(2, mode);
    const r = await call(port, "/reset", { headers: s.headers });
    assert.equal(r.status, 200, `${mode}: ${r.body}`);
    assert.equal(flaky.attemptsOf(s.id).length, 3, mode);
  }
  const s = steer(1, "503");
  assert.equal((await call(port, "/reset", { headers: s.headers })).status, 503);
  assert.equal(flaky.attemptsOf(s.id).length, 1);
});

test("connect-failure: a refused endpoint is retried on the next one; without a retry half the requests fail", async () => {
  const before = good.requests.length;
  for (let i = 0; i < 12; i++) {
    const r = await call(port, "/connect");
    assert.equal(r.status, 200, r.body);
  }
  assert.equal(good.requests.length - before, 12);
  let failed = 0;
  for (let i = 0; i < 12; i++) if ((await call(port, "/noretry")).status === 503) failed++;
  assert.ok(failed >= 4 && failed <= 8, `${failed} of 12 failed without retries (round robin over a dead and a live endpoint)`);
});

test("backoff: waits between attempts grow from baseInterval and stay under maxInterval", async () => {
  const s = steer(3, "500");
  const r = await call(port, "/backoff", { headers: s.headers });
  assert.equal(r.status, 200);
  const t = flaky.timesOf(s.id);
  assert.equal(t.length, 4);
  const gaps = t.slice(1).map((x, i) => x - t[i]!);
  // Retry n waits in [max(base, hi/2), hi], hi = min(base * 2^n, max): [100,200], [150,300], [150,300].
  assert.ok(gaps[0]! >= 95, `first wait ${gaps[0]} ms >= baseInterval`);
  assert.ok(gaps[1]! >= 145 && gaps[2]! >= 145, `later waits grow: ${gaps.map(Math.round).join(", ")} ms`);
  // Upper bounds with room for a loaded machine.
  assert.ok(gaps.every((g) => g < 300 + 250), `no wait far past maxInterval: ${gaps.map(Math.round).join(", ")} ms`);
});

test("perRetry.timeout: a slow attempt is abandoned and retried; all slow -> 504 naming the per-try timeout", async () => {
  const once = steer(1, "slow:1500");
  const r = await call(port, "/pertry", { headers: once.headers });
  assert.equal(r.status, 200, r.body);
  assert.equal(flaky.attemptsOf(once.id).length, 2);
  assert.ok(r.ms < 1200, `answered after the per-try timeout, not the slow attempt (${Math.round(r.ms)} ms)`);

  const always = steer(10, "slow:1500");
  const d = await call(port, "/pertry", { headers: always.headers });
  assert.equal(d.status, 504);
  assert.equal(d.body, "upstream per-try timeout after 200ms (attempt 3)\n");
  assert.equal(flaky.attemptsOf(always.id).length, 3);
});

test("POST is not retried once it reached the backend; PUT is; retryNonIdempotent allows POST", async () => {
  for (const mode of ["503", "reset"]) {
    const post = steer(1, mode);
    const r = await call(port, "/post", { method: "POST", body: "order=1", headers: post.headers });
    assert.equal(r.status, 503, `${mode}: ${r.body}`);
    assert.equal(flaky.attemptsOf(post.id).length, 1, `POST after ${mode}: one attempt`);
    const put = steer(1, mode);
    assert.equal((await call(port, "/post", { method: "PUT", body: "x=1", headers: put.headers })).status, 200);
    assert.equal(flaky.attemptsOf(put.id).length, 2, `PUT after ${mode}: retried`);
    const allowed = steer(1, mode);
    const a = await call(port, "/post-allowed", { method: "POST", body: "order=2", headers: allowed.headers });
    assert.equal(a.status, 200, a.body);
    const seen = flaky.attemptsOf(allowed.id);
    assert.equal(seen.length, 2);
    assert.ok(seen.every((x) => x.body === "order=2"), "the body is replayed");
  }
});

async function storm(path: string, n: number): Promise<{ attempts: number; statuses: number[] }> {
  const id = randomUUID();
  // Every attempt fails: 503 after 100 ms, so the requests are in progress together.
  const headers = { "x-id": id, "x-fail": "1000000", "x-mode": "503@100" };
  const replies = await Promise.all(Array.from({ length: n }, () => call(port, path, { headers: { ...headers } })));
  return { attempts: outage.attemptsOf(id).length, statuses: replies.map((r) => r.status) };
}

test("retry budget: during an outage retries stay a fraction of the load instead of multiplying it", async () => {
  const N = 60;
  const unbudgeted = await storm("/unbudgeted", N);
  assert.ok(unbudgeted.statuses.every((s) => s === 503));
  assert.equal(unbudgeted.attempts, N * 4, "without a budget every request makes 1 + 3 attempts");

  const metrics0 = await (await fetch(gw.admin("/metrics"))).text();
  const refused0 = metricSum(metrics0, "sluice_upstream_overflow_total", { limit: "retry_budget" });
  const budgeted = await storm("/budget", N);
  assert.ok(budgeted.statuses.every((s) => s === 503), "every request still gets the backend's answer");
  const retries = budgeted.attempts - N;
  // At most max(2, 20% of the requests in progress) retries at a time: far below N x 3.
  assert.ok(retries >= 2, `some retries were made (${retries})`);
  assert.ok(retries <= N * 0.6, `${retries} retries for ${N} failing requests (unbudgeted: ${N * 3})`);
  const metrics = await (await fetch(gw.admin("/metrics"))).text();
  const refused = metricSum(metrics, "sluice_upstream_overflow_total", { limit: "retry_budget" }) - refused0;
  assert.ok(refused > 0, "refused retries are counted");
});
