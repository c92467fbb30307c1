// The workers' flow ring and the control process's hub, without processes: ring order and
// overwrite, records built from raw fields, batching while followed, and what gets dropped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowRecorder, splitHostPort } from "../../../src/observe/flow-recorder.js";
import { FlowHub, type WorkerFlows } from "../../../src/observe/flow-hub.js";
import type { FlowLost, FlowRecord } from "../../../src/observe/flow-record.js";
import { compileFlowFilter, type FlowFilterSpec } from "../../../src/observe/flow-filter.js";

const L = {
  name: "http-8080",
  port: 8080,
  gateways: { lookup: (host: string) => (host === "a.example" ? { name: "default/gw/web" } : null) },
};

function req(path: string, host = "a.example:8080", remote = "::ffff:127.0.0.1") {
  return { method: "GET", url: path, httpVersion: "1.1", headers: { host, "content-length": "12" }, socket: { remoteAddress: remote, remotePort: 40000, localAddress: "::ffff:127.0.0.1" } };
}

test("HTTP records: fields, verdicts, the Gateway listener by Host, IPv4-mapped addresses made plain", () => {
  const r = new FlowRecorder(8);
  r.http(L, req("/ok"), false, performance.now(), 1.5, 200, 100, "httproute/default/api/rule/0/match/0", "127.0.0.1:3000", 200, "backend/default/echo/3000");
  r.http(L, req("/none", "other.example"), false, performance.now(), 0.2, 404, 10, null, null, 0, "");
  r.http(L, req("/moved"), false, performance.now(), 0.2, 302, 0, "httproute/default/r/rule/0/match/0", null, 0, "");
  r.http(L, req("/down"), false, performance.now(), 3, 503, 20, "httproute/default/api/rule/0/match/0", "backend/default/echo/3000", 0, "backend/default/echo/3000");
  const [ok, none, moved, down] = r.recent(10);
  assert.deepEqual(
    { source: ok!.source, verdict: ok!.verdict, src: ok!.src, dst: ok!.dst, listener: ok!.listener, backend: ok!.backend, upstream: ok!.upstream, bytes: ok!.bytes, bytesOut: ok!.bytesOut, http: ok!.http },
    {
      source: "l7",
      verdict: "forwarded",
      src: { ip: "127.0.0.1", port: 40000 },
      dst: { ip: "127.0.0.1", port: 8080 },
      listener: "default/gw/web",
      backend: "backend/default/echo/3000",
      upstream: "127.0.0.1:3000",
      bytes: 12,
      bytesOut: 100,
      http: { method: "GET", host: "a.example:8080", path: "/ok", status: 200, version: "HTTP/1.1" },
    },
  );
  assert.equal(none!.verdict, "dropped");
  assert.equal(none!.listener, "http-8080", "no Gateway listener for that Host: the port's");
  assert.equal(none!.backend, null);
  assert.equal(moved!.verdict, "answered");
  assert.equal(down!.verdict, "error", "the gateway's own 503 with a backend chosen");
  assert.equal(down!.upstream, undefined);
});

test("host and path survive slot reuse: copied bytes, and strings when too long or not latin1", () => {
  const r = new FlowRecorder(2);
  const long = `/${"x".repeat(400)}`;
  const wide = "/caf\u00e9/\u2603";
  r.http(L, req(long, "long.example"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.http(L, { ...req("/a"), httpVersion: "1.0" }, false, performance.now(), 0, 200, 0, null, null, 0, "");
  assert.deepEqual(r.recent(10).map((x) => [x.http?.host, x.http?.path, x.http?.version]), [
    ["long.example", long, "HTTP/1.1"],
    ["a.example:8080", "/a", "HTTP/1.0"],
  ]);
  // Slot 0 again: shorter values over longer ones, then a value above U+00FF.
  r.http(L, req("/b", "b.example"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.http(L, req(wide, "\u00e9.example"), true, performance.now(), 0, 200, 0, null, null, 0, "");
  assert.deepEqual(r.recent(10).map((x) => [x.http?.host, x.http?.path, x.http?.version]), [
    ["b.example", "/b", "HTTP/1.1"],
    ["\u00e9.example", wide, "HTTP/2"],
  ]);
});

test("L4 records: client address split, TLS as the application, results as verdicts", () => {
  const r = new FlowRecorder(8);
  const start = Date.now() - 50;
  r.l4({ start, protocol: "TLS", listener: "default/gw/tls", client: "[2001:db8::1]:5000", sni: "a.example", route: "tlsroute/default/t/rule/0", backend: "b", port: 8443 }, "ok", 10, 20);
  r.l4({ start, protocol: "UDP", listener: "default/gw/udp", client: "10.1.2.3:53", sni: null, route: null, backend: null, port: 5353 }, "no_route", 0, 0);
  r.l4({ start, protocol: "TCP", listener: "default/gw/tcp", client: "10.1.2.3:99", sni: null, route: "r", backend: "b", port: 9000 }, "connect_error", 0, 0);
  const [t, u, c] = r.recent(10);
  assert.deepEqual([t!.source, t!.protocol, t!.app, t!.sni, t!.verdict, t!.src, t!.dst.port, t!.bytes, t!.bytesOut], ["l4", "TCP", "TLS", "a.example", "forwarded", { ip: "2001:db8::1", port: 5000 }, 8443, 10, 20]);
  assert.ok(t!.durationMs! >= 50);
  assert.deepEqual([u!.protocol, u!.app, u!.verdict, u!.src], ["UDP", undefined, "dropped", { ip: "10.1.2.3", port: 53 }]);
  assert.equal(c!.verdict, "error");
  assert.deepEqual(splitHostPort("::ffff:1.2.3.4:80"), { ip: "1.2.3.4", port: 80 });
});

test("the ring keeps the last N, oldest first; recent() filters before it limits", () => {
  const r = new FlowRecorder(4);
  for (let i = 0; i < 10; i++) r.http(L, req(`/${i}`), false, performance.now(), 0, i % 2 ? 404 : 200, 0, null, i % 2 ? null : "e:1", 0, "");
  assert.deepEqual(r.recent(10).map((x) => x.http?.path), ["/6", "/7", "/8", "/9"]);
  assert.deepEqual(r.recent(2).map((x) => x.http?.path), ["/8", "/9"]);
  assert.deepEqual(r.recent(10, { verdict: ["dropped"] }).map((x) => x.http?.path), ["/7", "/9"]);
});

test("following: batches hold what happened since the follow began; overwritten and backed-up records are counted, not waited for", () => {
  const sent: { records: FlowRecord[]; lost: number }[] = [];
  const callbacks: (() => void)[] = [];
  let accept = true;
  const r = new FlowRecorder(4, (m, done) => {
    sent.push(m as { records: FlowRecord[]; lost: number });
    callbacks.push(done);
    return accept;
  });
  r.http(L, req("/before"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.follow(true);
  r.flush();
  assert.equal(sent.length, 0, "nothing new, nothing sent");
  r.http(L, req("/a"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.http(L, req("/b"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.flush();
  assert.deepEqual(sent[0]!.records.map((x) => x.http?.path), ["/a", "/b"]);
  assert.equal(sent[0]!.lost, 0);

  for (let i = 0; i < 6; i++) r.http(L, req(`/c${i}`), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.flush();
  assert.deepEqual(sent[1]!.records.map((x) => x.http?.path), ["/c2", "/c3", "/c4", "/c5"]);
  assert.equal(sent[1]!.lost, 2, "two were overwritten before the flush");

  // The channel reports a backlog: later batches are dropped (and counted) until sends complete.
  accept = false;
  r.http(L, req("/d"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.flush();
  assert.equal(sent.length, 3);
  r.http(L, req("/e"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.flush();
  assert.equal(sent.length, 3, "not sent while backed up");
  accept = true;
  for (const cb of callbacks.splice(0)) cb();
  r.http(L, req("/f"), false, performance.now(), 0, 200, 0, null, null, 0, "");
  r.flush();
  assert.equal(sent.length, 4);
  assert.deepEqual(sent[3]!.records.map((x) => x.http?.path), ["/f"]);
  assert.equal(sent[3]!.lost, 1, "/e was dropped");
  r.follow(false);
});

function fakeWorkers(records: FlowRecord[]): WorkerFlows & { follow: boolean[]; queries: FlowFilterSpec[] } {
  const w = {
    follow: [] as boolean[],
    queries: [] as FlowFilterSpec[],
    setFlowFollow: (on: boolean) => void w.follow.push(on),
    recentFlows: async (limit: number, filter: FlowFilterSpec) => {
      w.queries.push(filter);
      return records.filter(compileFlowFilter(filter)).slice(-limit);
    },
  };
  return w;
}

const rec = (time: string, verdict: FlowRecord["verdict"], port = 80): FlowRecord => ({ time, source: "kernel", type: verdict === "dropped" ? "drop" : "new", verdict, protocol: "TCP", src: { ip: "10.0.0.1", port: 1000 }, dst: { ip: "10.0.0.2", port } });

test("hub: followers get matching records; the workers follow only while someone listens", async () => {
  const hub = new FlowHub(3);
  const w = fakeWorkers([]);
  hub.attachWorkers(w);
  const a: (FlowRecord | FlowLost)[] = [];
  const b: (FlowRecord | FlowLost)[] = [];
  const offA = hub.subscribe({ verdict: ["dropped"] }, (x) => a.push(x));
  const offB = hub.subscribe({}, (x) => b.push(x));
  assert.deepEqual(w.follow, [true], "turned on once, for the first subscriber");
  hub.publish(rec("2030-01-01T00:00:01.000Z", "forwarded"));
  hub.publish(rec("2030-01-01T00:00:02.000Z", "dropped"));
  hub.fromWorker([rec("2030-01-01T00:00:03.000Z", "dropped", 443)], 2);
  assert.deepEqual(a.map((x) => x.time), ["2030-01-01T00:00:02.000Z", "2030-01-01T00:00:03.000Z", (a[2] as FlowLost).time]);
  assert.deepEqual([(a[2] as FlowLost).type, (a[2] as FlowLost).count], ["lost", 2]);
  assert.equal(b.length, 4);
  offA();
  offA();
  assert.deepEqual(w.follow, [true]);
  offB();
  assert.deepEqual(w.follow, [true, false], "off when the last one leaves");
  assert.deepEqual(hub.stats().lost, { workers: 2 });
});

test("hub: recent merges its own ring with the workers', oldest first, last N, filter passed down", async () => {
  const hub = new FlowHub(2);
  const w = fakeWorkers([rec("2030-01-01T00:00:02.500Z", "forwarded", 8080), rec("2030-01-01T00:00:05.000Z", "forwarded", 8080)]);
  hub.attachWorkers(w);
  hub.publish(rec("2030-01-01T00:00:01.000Z", "forwarded"));
  hub.publish(rec("2030-01-01T00:00:02.000Z", "dropped"));
  hub.publish(rec("2030-01-01T00:00:03.000Z", "dropped"));
  const all = await hub.recent(10);
  assert.deepEqual(all.map((r) => r.time.slice(17, 23)), ["02.000", "02.500", "03.000", "05.000"], "the ring of 2 forgot the first");
  assert.deepEqual((await hub.recent(2)).map((r) => r.time.slice(17, 23)), ["03.000", "05.000"]);
  const dropped = await hub.recent(10, { verdict: ["dropped"] });
  assert.equal(dropped.length, 2);
  assert.deepEqual(w.queries.at(-1), { verdict: ["dropped"] });
  assert.deepEqual(await hub.recent(0), []);
});
