// The pickers and tables behind every load-balancing algorithm, and the pure pieces of health
// checking (outlier counting, ejection limits, the gRPC health message), checked without sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildPicker, type Candidate } from "../../../src/proxy/upstream/lb-picker.js";
import { MaglevPicker } from "../../../src/proxy/upstream/lb-maglev.js";
import { RingHashPicker } from "../../../src/proxy/upstream/lb-ring-hash.js";
import { compileHash, hashString, type HashSource } from "../../../src/proxy/upstream/lb-hash.js";
import { StickySession, endpointId } from "../../../src/proxy/upstream/lb-session.js";
import { countOutcome, mayEject, newCounters, ejectionMs, OUTCOME_CONNECT, OUTCOME_TIMEOUT } from "../../../src/proxy/upstream/health-outlier.js";
import { decodeHealthStatus, encodeHealthRequest } from "../../../src/proxy/upstream/health-grpc.js";
import type { IrPassiveHealthCheck } from "../../../src/ir/types.js";

const cands = (weights: number[]): Candidate[] => weights.map((w, i) => ({ index: i, weight: w, key: `10.0.0.${i + 1}:80` }));
const idle = (n: number) => Array.from({ length: n }, () => ({ active: 0 }));

function counts(pick: () => number, n: number, rounds: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (let i = 0; i < rounds; i++) c[pick()]!++;
  return c;
}

test("round robin follows the weights exactly over a cycle", () => {
  const p = buildPicker({ type: "RoundRobin" }, cands([3, 1]), idle(2));
  assert.deepEqual(counts(() => p.pick(-1), 2, 400), [300, 100]);
  // Smooth: never three picks of the heavy endpoint... then a burst of the light one.
  const seq = Array.from({ length: 8 }, () => p.pick(-1));
  assert.ok(seq.filter((x) => x === 1).length === 2, String(seq));
});

test("random follows the weights within tolerance", () => {
  const p = buildPicker({ type: "Random" }, cands([1, 2, 1]), idle(3));
  const c = counts(() => p.pick(-1), 3, 40_000);
  assert.ok(Math.abs(c[1]! / 40_000 - 0.5) < 0.02, String(c));
  assert.ok(Math.abs(c[0]! / 40_000 - 0.25) < 0.02, String(c));
});

test("least request prefers the endpoint with fewer requests in flight", () => {
  const eps = idle(2);
  eps[0]!.active = 10;
  const p = buildPicker({ type: "LeastRequest" }, cands([1, 1]), eps);
  assert.deepEqual(counts(() => p.pick(-1), 2, 1000), [0, 1000]);
  // Among several, the idle one wins whenever it is drawn (about 2/3 of picks with 4 endpoints, one idle).
  const four = idle(4).map((_, i) => ({ active: i === 2 ? 0 : 5 }));
  const p4 = buildPicker({ type: "LeastRequest" }, cands([1, 1, 1, 1]), four);
  const c = counts(() => p4.pick(-1), 4, 10_000);
  assert.ok(c[2]! > 4500, String(c));
});

test("maglev: a key stays on one endpoint; adding one of N moves about 1/N of the keys", () => {
  const before = new MaglevPicker(cands([1, 1, 1, 1]), 65537);
  const after = new MaglevPicker(cands([1, 1, 1, 1, 1]), 65537);
  let moved = 0;
  let movedElsewhere = 0;
  const keys = 5000;
  for (let k = 0; k < keys; k++) {
    const h = hashString(`user-${k}`);
    const a = before.pick(h);
    assert.equal(before.pick(h), a);
    const b = after.pick(h);
    if (a !== b) {
      moved++;
      if (b !== 4) movedElsewhere++;
    }
  }
  assert.ok(moved / keys > 0.12 && moved / keys < 0.3, `moved ${moved}`);
  assert.ok(movedElsewhere / keys < 0.03, `moved between old endpoints: ${movedElsewhere}`);
});

test("maglev and ring hash shares follow the weights", () => {
  for (const p of [new MaglevPicker(cands([1, 3]), 65537), new RingHashPicker(cands([1, 3]), 4096)]) {
    const c = counts(() => p.pick(Math.floor(Math.random() * 0x40000000)), 2, 20_000);
    assert.ok(Math.abs(c[1]! / 20_000 - 0.75) < 0.05, `${p.constructor.name}: ${c}`);
  }
});

test("ring hash: adding one of N moves about 1/N of the keys, only to the new endpoint", () => {
  const before = new RingHashPicker(cands([1, 1, 1]), 4096);
  const after = new RingHashPicker(cands([1, 1, 1, 1]), 4096);
  let moved = 0;
  for (let k = 0; k < 4000; k++) {
    const h = hashString(`k${k}`);
    const a = before.pick(h);
    const b = after.pick(h);
    if (a !== b) {
      moved++;
      assert.equal(b, 3, "a key moved between two old endpoints");
    }
  }
  assert.ok(moved / 4000 > 0.15 && moved / 4000 < 0.35, `moved ${moved}`);
});

const src = (headers: Record<string, string>, url = "/", ip = "127.0.0.1"): HashSource => ({ headers, url, socket: { remoteAddress: ip, remotePort: 1234 } });

test("hash inputs: header, query, cookie, source IP", () => {
  const hdr = compileHash({ type: "Header", names: ["x-user"] });
  assert.equal(hdr(src({ "x-user": "a" })), hdr(src({ "x-user": "a" }, "/other")));
  assert.notEqual(hdr(src({ "x-user": "a" })), hdr(src({ "x-user": "b" })));
  assert.equal(hdr(src({})), -1);
  const q = compileHash({ type: "QueryParams", names: ["id"] });
  assert.equal(q(src({}, "/p?x=1&id=42")), q(src({}, "/q?id=42")));
  assert.notEqual(q(src({}, "/p?id=42")), q(src({}, "/p?id=43")));
  assert.equal(q(src({}, "/p?idx=1")), -1);
  const c = compileHash({ type: "Cookie", name: "s" });
  assert.equal(c(src({ cookie: "a=1; s=xyz; b=2" })), c(src({ cookie: "s=xyz" })));
  assert.equal(c(src({ cookie: "ss=xyz" })), -1);
  const ip = compileHash({ type: "SourceIP" });
  assert.equal(ip(src({}, "/", "::ffff:10.1.2.3")), ip(src({}, "/", "10.1.2.3")));
});

test("session tokens: name an endpoint, expire on absolute and idle timeouts", () => {
  const labels = ["10.0.0.1:80", "10.0.0.2:80"];
  const s = new StickySession({ type: "Cookie", name: "sid", absoluteTimeoutMs: 60_000, idleTimeoutMs: 10_000, permanent: true, path: "/app" }, labels);
  const headers: string[] = [];
  s.stamp(headers, 1, src({}));
  assert.equal(headers[0], "set-cookie");
  assert.match(headers[1]!, /^sid=[0-9a-f]{16}\.[0-9a-z]+\.[0-9a-z]+; Path=\/app; HttpOnly; Max-Age=60$/);
  const token = headers[1]!.split(";")[0]!.slice(4);
  assert.equal(token.slice(0, 16), endpointId("10.0.0.2:80"));
  assert.equal(s.lookup(src({ cookie: `sid=${token}` })), 1);
  const old = (Math.floor(Date.now() / 1000) - 120).toString(36);
  const now = Math.floor(Date.now() / 1000).toString(36);
  assert.equal(s.lookup(src({ cookie: `sid=${token.slice(0, 16)}.${old}.${now}` })), -1, "past the absolute timeout");
  assert.equal(s.lookup(src({ cookie: `sid=${token.slice(0, 16)}.${now}.${(Math.floor(Date.now() / 1000) - 30).toString(36)}` })), -1, "idle too long");
  const h = new StickySession({ type: "Header", name: "X-Session" }, labels);
  const out: string[] = [];
  h.stamp(out, 0, src({}));
  assert.deepEqual(out, ["x-session", endpointId("10.0.0.1:80")]);
  assert.equal(h.lookup(src({ "x-session": out[1]! })), 0);
  const again: string[] = [];
  h.stamp(again, 0, src({ "x-session": out[1]! }));
  assert.deepEqual(again, [], "a live session without idle timeout is not re-stamped");
});

const passive: IrPassiveHealthCheck = { consecutive5xx: 3, consecutiveGatewayErrors: 0, consecutiveLocalOriginFailures: 2, splitExternalLocalOriginErrors: false, intervalMs: 1000, baseEjectionMs: 1000, maxEjectionPercent: 10 };

test("outlier detection: consecutive 5xx, reset by a success; local failures split or not", () => {
  const c = newCounters();
  assert.equal(countOutcome(passive, c, 500), null);
  assert.equal(countOutcome(passive, c, 502), null);
  assert.equal(countOutcome(passive, c, 200), null);
  assert.equal(countOutcome(passive, c, 500), null);
  assert.equal(countOutcome(passive, c, OUTCOME_CONNECT), null);
  assert.match(countOutcome(passive, c, OUTCOME_TIMEOUT) ?? "", /3 consecutive 5xx/);
  const split = { ...passive, splitExternalLocalOriginErrors: true };
  const s = newCounters();
  assert.equal(countOutcome(split, s, 503), null);
  assert.equal(countOutcome(split, s, OUTCOME_CONNECT), null);
  assert.match(countOutcome(split, s, OUTCOME_CONNECT) ?? "", /2 consecutive local-origin failures/);
  const gw = { ...passive, consecutive5xx: 0, consecutiveGatewayErrors: 2 };
  const g = newCounters();
  assert.equal(countOutcome(gw, g, 500), null);
  assert.equal(countOutcome(gw, g, 503), null);
  assert.match(countOutcome(gw, g, 504) ?? "", /2 consecutive gateway errors/);
});

test("max ejection percent: one may always go; beyond that the percentage holds", () => {
  assert.equal(mayEject(passive, 0, 3), true);
  assert.equal(mayEject(passive, 1, 3), false);
  assert.equal(mayEject({ ...passive, maxEjectionPercent: 50 }, 1, 4), true);
  assert.equal(mayEject({ ...passive, maxEjectionPercent: 50 }, 2, 4), false);
  assert.equal(mayEject({ ...passive, maxEjectionPercent: 100 }, 1, 1), false);
  assert.equal(ejectionMs(passive, 3), 3000);
  assert.equal(ejectionMs({ ...passive, baseEjectionMs: 200_000 }, 3), 300_000);
});

test("gRPC health messages", () => {
  const req = encodeHealthRequest("shop.Cart");
  assert.equal(req[0], 0);
  assert.equal(req.readUInt32BE(1), 11);
  assert.equal(req.subarray(5).toString("latin1"), "\x0a\x09shop.Cart");
  assert.deepEqual(encodeHealthRequest(""), Buffer.alloc(5));
  assert.equal(decodeHealthStatus(Buffer.from([0x08, 0x01])), 1);
  assert.equal(decodeHealthStatus(Buffer.from([0x08, 0x02])), 2);
  assert.equal(decodeHealthStatus(Buffer.alloc(0)), 0);
});
