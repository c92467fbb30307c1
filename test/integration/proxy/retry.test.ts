// Retries over real sockets (GEP-1731): connection resets and premature closes after the request
// was sent, and attempts that hit the backendRequest timeout, are retried; the request timeout still
// bounds the whole exchange; metrics count every failed attempt with its reason.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { register } from "prom-client";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import type { IrCluster, IrRoute } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

// A backend whose first `fail` attempts of request `id` fail with `mode`:
//   reset: TCP RST after the request arrived; close: FIN without any response; slow: answer late.
const seen = new Map<string, number>();
let backend: http.Server;
let backendPort: number;
let h2backend: http2.Http2Server;
let h2Port: number;
let port: number;
let dp: ProxyDataPlane;

function outcome(url: string): { n: number; failing: boolean; mode: string } {
  const q = new URL(url, "http://x").searchParams;
  const id = q.get("id") ?? "";
  const n = (seen.get(id) ?? 0) + 1;
  seen.set(id, n);
  return { n, failing: n <= Number(q.get("fail") ?? 0), mode: q.get("mode") ?? "reset" };
}

before(async () => {
  backend = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const o = outcome(req.url ?? "/");
      const body = Buffer.concat(chunks).toString();
      if (o.failing && o.mode === "reset") return void req.socket.resetAndDestroy();
      if (o.failing && o.mode === "close") return void req.socket.end();
      const send = (): void => {
        if (!res.destroyed) res.end(`attempt ${o.n} body=${body}`);
      };
      if (o.failing && o.mode === "slow") setTimeout(send, 400);
      else send();
    });
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", () => r()));
  backendPort = (backend.address() as net.AddressInfo).port;
  h2backend = http2.createServer();
  h2backend.on("stream", (st, headers) => {
    const o = outcome(String(headers[":path"]));
    st.on("error", () => {}); // our own RST_STREAM below surfaces here
    if (o.failing) st.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else {
      st.respond({ ":status": 200 });
      st.end(`h2 attempt ${o.n}`);
    }
  });
  await new Promise<void>((r) => h2backend.listen(0, "127.0.0.1", () => r()));
  h2Port = (h2backend.address() as net.AddressInfo).port;
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  const clusters: IrCluster[] = [
    { name: "flaky", protocol: "http1", endpoints: [{ address: "127.0.0.1", port: backendPort, weight: 1 }] },
    { name: "flaky-h2", protocol: "h2c", endpoints: [{ address: "127.0.0.1", port: h2Port, weight: 1 }] },
  ];
  const p = (value: string) => ({ path: { type: "PathPrefix" as const, value } });
  const routes: IrRoute[] = [
    route(p("/r3"), forward("flaky"), { retry: { attempts: 3, codes: [], backoffMs: 5 } }),
    route(p("/none"), forward("flaky")),
    route(p("/h2"), forward("flaky-h2"), { retry: { attempts: 2, codes: [], backoffMs: 5 } }),
    route(p("/bt"), forward("flaky"), { retry: { attempts: 2, codes: [], backoffMs: 5 }, timeouts: { backendRequestMs: 150 } }),
    route(p("/rt"), forward("flaky"), { retry: { attempts: 10, codes: [], backoffMs: 5 }, timeouts: { backendRequestMs: 150, requestMs: 400 } }),
  ];
  const res = await dp.apply(snapshot([listener(port, [gateway(routes, null, "*", "ns/gw/retry")])], clusters));
  assert.ok(res.every((r) => r.ok), JSON.stringify(res));
});

after(async () => {
  agent.destroy();
  await dp.close();
  await new Promise((r) => backend.close(r));
  await new Promise((r) => h2backend.close(r));
});

let ids = 0;
function path(prefix: string, fail: number, mode = "reset"): { url: string; id: string } {
  const id = `${prefix.slice(1)}-${mode}-${++ids}`;
  return { url: `${prefix}?id=${id}&fail=${fail}&mode=${mode}`, id };
}

test("a connection reset after the request was sent is retried until an attempt succeeds", async () => {
  for (const mode of ["reset", "close"]) {
    const { url, id } = path("/r3", 2, mode);
    const r = await request(port, url);
    assert.equal(r.status, 200, `${mode}: ${r.body}`);
    assert.equal(r.body, "attempt 3 body=");
    assert.equal(seen.get(id), 3);
  }
  // A small body is replayed on each attempt (PUT: idempotent; a POST that reached the backend is
  // not retried, see resilience-retry.test.ts).
  const { url } = path("/r3", 1);
  const put = await request(port, url, { method: "PUT", body: "payload" });
  assert.equal(put.status, 200);
  assert.equal(put.body, "attempt 2 body=payload");
});

test("resets that outlast the attempts answer 503, each failed attempt counted as a reset", async () => {
  const before = await errorCount("reset");
  const { url, id } = path("/r3", 4);
  const r = await request(port, url);
  assert.equal(r.status, 503);
  assert.match(r.body, /reset/);
  assert.equal(seen.get(id), 4, "first attempt and 3 retries");
  assert.equal((await errorCount("reset")) - before, 4);
});

async function errorCount(reason: string): Promise<number> {
  const text = await register.metrics();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("sluice_upstream_errors_total{") && line.includes(`reason="${reason}"`) && line.includes('backend="flaky"')) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

test("without a retry policy a reset is answered 503 at once", async () => {
  const { url, id } = path("/none", 1);
  const r = await request(port, url);
  assert.equal(r.status, 503);
  assert.equal(seen.get(id), 1);
});

test("a request body too large to replay is not retried", async () => {
  const { url, id } = path("/r3", 1);
  const r = await request(port, url, { method: "PUT", body: "z".repeat(200 * 1024) });
  assert.equal(r.status, 503);
  assert.equal(seen.get(id), 1);
});

test("an h2c stream reset by the backend is retried", async () => {
  const { url, id } = path("/h2", 2);
  const r = await request(port, url);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, "h2 attempt 3");
  assert.equal(seen.get(id), 3);
});

test("attempts that hit the backendRequest timeout are retried without 504 in codes", async () => {
  const ok = path("/bt", 2, "slow");
  const t0 = Date.now();
  const r = await request(port, ok.url);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, "attempt 3 body=");
  assert.ok(Date.now() - t0 >= 300, "two attempts timed out first");
  const exhausted = path("/bt", 3, "slow");
  const before = await errorCount("timeout");
  const r2 = await request(port, exhausted.url);
  assert.equal(r2.status, 504);
  assert.match(r2.body, /timeout/);
  assert.equal(seen.get(exhausted.id), 3);
  assert.equal((await errorCount("timeout")) - before, 3, "one timeout per attempt");
});

test("the request timeout bounds the retries of timed-out attempts", async () => {
  const { url, id } = path("/rt", 10, "slow");
  const t0 = Date.now();
  const r = await request(port, url);
  const took = Date.now() - t0;
  assert.equal(r.status, 504);
  assert.ok(took >= 380 && took < 1000, `took ${took} ms`);
  const attempts = seen.get(id) ?? 0;
  assert.ok(attempts >= 2 && attempts <= 3, `attempts ${attempts}`);
});
