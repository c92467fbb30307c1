// Pure tests of the policy compiler and differ (no kernel needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  applyOps,
  compilePolicy,
  diffPolicy,
  emptyCompiled,
  evaluate,
  portBlocks,
  SLOT_DEFAULT_DROP,
  SLOT_DEFAULT_PASS,
  type CompiledPolicy,
  type PolicyModel,
  type PolicyRule,
} from "../../src/ebpf/policy-map.js";
import { parseCidr, formatPrefix } from "../../src/ebpf/cidr.js";

const TCP = 6;
const UDP = 17;
const ICMP = 1;

test("cidr parsing normalises host bits and understands IPv6 shorthand", () => {
  const a = parseCidr("10.1.2.3/8");
  assert.ok(typeof a !== "string");
  assert.equal(formatPrefix(a), "10.0.0.0/8");
  const b = parseCidr("2001:db8::1/32");
  assert.ok(typeof b !== "string");
  assert.equal(formatPrefix(b), "2001:db8:0:0:0:0:0:0/32");
  const c = parseCidr("::ffff:10.0.0.1");
  assert.ok(typeof c !== "string");
  assert.equal(c.len, 128);
  assert.deepEqual(Array.from(c.addr.subarray(10)), [0xff, 0xff, 10, 0, 0, 1]);
  assert.match(String(parseCidr("10.0.0.0/33")), /prefix length/);
  assert.match(String(parseCidr("nope")), /not an IPv4 or IPv6 CIDR/);
});

test("port ranges split into aligned blocks that cover exactly the range", () => {
  assert.deepEqual(portBlocks(80, 80), [{ port: 80, bits: 16 }]);
  assert.deepEqual(portBlocks(0, 65535), [{ port: 0, bits: 0 }]);
  for (const [lo, hi] of [
    [80, 90],
    [1, 65535],
    [1024, 2047],
    [7, 300],
  ]) {
    const blocks = portBlocks(lo, hi);
    let covered = 0;
    let expect = lo;
    for (const b of blocks) {
      const size = 2 ** (16 - b.bits);
      assert.equal(b.port, expect, "blocks are contiguous");
      assert.equal(b.port % size, 0, "blocks are aligned");
      expect += size;
      covered += size;
    }
    assert.equal(covered, hi - lo + 1);
  }
  assert.ok(portBlocks(1, 65535).length <= 16);
});

test("allow by CIDR under default deny; except carves a hole; ports and ranges", () => {
  const c = compilePolicy({
    defaultVerdict: "deny",
    rules: [
      { id: "web", verdict: "allow", from: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] }], ports: [{ protocol: "TCP", port: 80 }, { protocol: "TCP", port: 8000, endPort: 8080 }] },
      { id: "dns", verdict: "allow", from: [{ cidr: "0.0.0.0/0" }], ports: [{ protocol: "UDP", port: 53 }] },
    ],
  });
  assert.deepEqual(c.problems, []);
  const web = c.slots.get("web");
  assert.deepEqual(evaluate(c, "10.2.3.4", TCP, 80), { verdict: "allow", slot: web });
  assert.deepEqual(evaluate(c, "10.2.3.4", TCP, 8000), { verdict: "allow", slot: web });
  assert.deepEqual(evaluate(c, "10.2.3.4", TCP, 8080), { verdict: "allow", slot: web });
  assert.deepEqual(evaluate(c, "10.2.3.4", TCP, 8081), { verdict: "deny", slot: SLOT_DEFAULT_DROP });
  assert.deepEqual(evaluate(c, "10.2.3.4", TCP, 7999), { verdict: "deny", slot: SLOT_DEFAULT_DROP });
  assert.deepEqual(evaluate(c, "10.2.3.4", UDP, 80), { verdict: "deny", slot: SLOT_DEFAULT_DROP });
  assert.equal(evaluate(c, "10.1.9.9", TCP, 80).verdict, "deny", "except");
  assert.equal(evaluate(c, "11.0.0.1", TCP, 80).verdict, "deny");
  // The except still gets the 0.0.0.0/0 DNS rule: excepts only remove the selector they belong to.
  assert.deepEqual(evaluate(c, "10.1.9.9", UDP, 53), { verdict: "allow", slot: c.slots.get("dns") });
  assert.equal(evaluate(c, "10.2.3.4", ICMP, 0).verdict, "deny");
});

test("deny beats allow wherever they overlap, in address and in port", () => {
  const c = compilePolicy({
    defaultVerdict: "allow",
    rules: [
      { id: "allow-all", verdict: "allow", from: [{ cidr: "0.0.0.0/0" }], ports: [] },
      { id: "deny-range", verdict: "deny", from: [{ cidr: "192.168.0.0/16" }], ports: [{ protocol: "ANY", port: 1000, endPort: 2000 }] },
      { id: "deny-host", verdict: "deny", from: [{ cidr: "192.168.1.1/32" }], ports: [] },
    ],
  });
  assert.equal(evaluate(c, "192.168.5.5", TCP, 1500).verdict, "deny");
  assert.equal(evaluate(c, "192.168.5.5", UDP, 2000).verdict, "deny");
  assert.deepEqual(evaluate(c, "192.168.5.5", TCP, 2001), { verdict: "allow", slot: c.slots.get("allow-all") });
  assert.deepEqual(evaluate(c, "192.168.5.5", ICMP, 0), { verdict: "allow", slot: c.slots.get("allow-all") });
  assert.deepEqual(evaluate(c, "192.168.1.1", TCP, 22), { verdict: "deny", slot: c.slots.get("deny-host") });
  assert.deepEqual(evaluate(c, "192.168.1.1", ICMP, 0), { verdict: "deny", slot: c.slots.get("deny-host") });
  // Both deny rules cover 192.168.1.1:1500; the first in order gets the counter.
  assert.deepEqual(evaluate(c, "192.168.1.1", TCP, 1500), { verdict: "deny", slot: c.slots.get("deny-range") });
  assert.deepEqual(evaluate(c, "8.8.8.8", TCP, 1500), { verdict: "allow", slot: c.slots.get("allow-all") });
});

test("IPv6 prefixes, excepts and ports", () => {
  const c = compilePolicy({
    defaultVerdict: "deny",
    rules: [{ id: "v6", verdict: "allow", from: [{ cidr: "fd00::/8", except: ["fd00:bad::/32"] }], ports: [{ protocol: "TCP", port: 443 }] }],
  });
  assert.equal(evaluate(c, "fd00:1::5", TCP, 443).verdict, "allow");
  assert.equal(evaluate(c, "fd00:bad::5", TCP, 443).verdict, "deny");
  assert.equal(evaluate(c, "fe80::1", TCP, 443).verdict, "deny");
  assert.equal(evaluate(c, "10.0.0.1", TCP, 443).verdict, "deny", "no IPv4 entry: default");
  assert.ok([...c.entries.values()].some((e) => e.map === "src6"));
  assert.ok(![...c.entries.values()].some((e) => e.map === "src4"));
});

test("problems are reported and the bad parts ignored", () => {
  const c = compilePolicy({
    defaultVerdict: "allow",
    rules: [
      { id: "a", verdict: "deny", from: [{ cidr: "10.0.0.0/8", except: ["11.0.0.0/8", "zzz"] }, { cidr: "bogus" }], ports: [] },
      { id: "a", verdict: "deny", from: [], ports: [] },
    ],
  });
  assert.equal(c.problems.length, 4, c.problems.join("\n"));
  assert.equal(evaluate(c, "10.0.0.1", TCP, 1).verdict, "deny");
});

test("unchanged model -> no operations; an empty policy passes everything", () => {
  const m: PolicyModel = { defaultVerdict: "deny", rules: [{ id: "r", verdict: "allow", from: [{ cidr: "10.0.0.0/8" }], ports: [] }] };
  const a = compilePolicy(m);
  const b = compilePolicy(m, a);
  assert.deepEqual(diffPolicy(a, b), []);
  assert.equal(evaluate(emptyCompiled(), "1.2.3.4", TCP, 1).verdict, "allow");
  const first = diffPolicy(emptyCompiled(), a);
  assert.equal(first.at(-1)?.op, "config", "the policy turns on only after every entry is in place");
});

test("counter slots follow rule ids; a freed slot is not reused in the same update", () => {
  const r = (id: string, cidr: string): PolicyRule => ({ id, verdict: "allow", from: [{ cidr }], ports: [] });
  const a = compilePolicy({ defaultVerdict: "deny", rules: [r("x", "10.0.0.0/8"), r("y", "11.0.0.0/8")] });
  const b = compilePolicy({ defaultVerdict: "deny", rules: [r("z", "12.0.0.0/8"), r("y", "11.0.0.0/9")] }, a);
  assert.equal(b.slots.get("y"), a.slots.get("y"));
  assert.ok(![...a.slots.values()].includes(b.slots.get("z") ?? -1));
  const ops = diffPolicy(a, b);
  assert.deepEqual(
    ops.filter((o) => o.op === "zero-counter"),
    [{ op: "zero-counter", slot: b.slots.get("z") }],
  );
});

// --- window-free updates: every intermediate state gives each probe its old or its new verdict ---

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomModel(rand: () => number): PolicyModel {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const cidrs = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "10.2.0.0/16", "0.0.0.0/0", "10.0.0.0/9", "10.128.0.0/9"];
  const rules: PolicyRule[] = [];
  const n = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const cidr = pick(cidrs);
    const except = cidrs.filter((e) => e !== cidr && rand() < 0.3);
    const ports = rand() < 0.3 ? [] : [{ protocol: pick(["TCP", "UDP", "ANY"] as const), port: pick([80, 443, 1000]), endPort: rand() < 0.5 ? undefined : pick([1100, 2000]) }];
    rules.push({ id: `r${Math.floor(rand() * 6)}-${i}`, verdict: rand() < 0.4 ? "deny" : "allow", from: [{ cidr, except }], ports });
  }
  return { defaultVerdict: rand() < 0.5 ? "allow" : "deny", rules };
}

const PROBES: Array<[string, number, number]> = [];
for (const ip of ["10.1.2.3", "10.1.2.4", "10.1.3.1", "10.2.0.1", "10.200.0.1", "10.127.0.1", "11.0.0.1"]) {
  for (const [proto, port] of [
    [TCP, 80],
    [TCP, 443],
    [UDP, 80],
    [TCP, 1050],
    [UDP, 1500],
    [ICMP, 0],
  ] as const) {
    PROBES.push([ip, proto, port]);
  }
}

test("diff: 300 random policy changes never show a probe a verdict that is neither old nor new", () => {
  const rand = rng(42);
  let prev: CompiledPolicy = emptyCompiled();
  let transitions = 0;
  for (let round = 0; round < 300; round++) {
    const next = compilePolicy(randomModel(rand), prev);
    const ops = diffPolicy(prev, next);
    const before = PROBES.map(([ip, p, port]) => evaluate(prev, ip, p, port).verdict);
    const after = PROBES.map(([ip, p, port]) => evaluate(next, ip, p, port).verdict);
    const end = applyOps(prev, ops, (state) => {
      PROBES.forEach(([ip, p, port], i) => {
        const v = evaluate(state, ip, p, port).verdict;
        if (v !== before[i] && v !== after[i]) {
          assert.fail(`round ${round}: ${ip} proto ${p} port ${port} saw ${v} (old ${before[i]}, new ${after[i]})`);
        }
        if (v !== before[i]) transitions++;
      });
    });
    // The ops reproduce the new compiled set exactly.
    assert.deepEqual([...end.entries.keys()].sort(), [...next.entries.keys()].sort());
    PROBES.forEach(([ip, p, port], i) => assert.equal(evaluate(end, ip, p, port).verdict, after[i]));
    prev = next;
  }
  assert.ok(transitions > 100, `the random changes flip verdicts (${transitions})`);
});

test("the default verdict slots are what the kernel counts when nothing matches", () => {
  const c = compilePolicy({ defaultVerdict: "allow", rules: [] });
  assert.deepEqual(evaluate(c, "1.1.1.1", TCP, 80), { verdict: "allow", slot: SLOT_DEFAULT_PASS });
});
