// The userspace evaluator (accept-time checks) against the reference evaluation of the kernel's map
// entries, and the port-scoped default deny. Pure: no root needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyEvaluator } from "../../src/ebpf/policy-eval.js";
import { compilePolicy, evaluate, SLOT_DEFAULT_DROP, SLOT_DEFAULT_PASS, type PolicyModel, type PolicyRule } from "../../src/ebpf/policy-map.js";

const TCP = 6;
const UDP = 17;

/** Deterministic generator (failures must reproduce). */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

function randomModel(r: () => number, n: number): PolicyModel {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const v4 = () => `10.${Math.floor(r() * 4)}.${Math.floor(r() * 4)}.${Math.floor(r() * 256)}`;
  const rules: PolicyRule[] = [];
  for (let i = 0; i < n; i++) {
    const len = pick([8, 16, 24, 30, 32]);
    const from = r() < 0.8 ? [{ cidr: `${v4()}/${len}` }] : [{ cidr: `fd00:${Math.floor(r() * 4)}::/${pick([32, 48, 64])}` }];
    if (len <= 24 && r() < 0.5) {
      const base = from[0]!.cidr.split("/")[0]!.split(".");
      from[0] = { ...from[0]!, except: [`${base[0]}.${base[1]}.${base[2]}.${Math.floor(r() * 256)}/32`] } as { cidr: string; except: string[] };
    }
    const port = pick([80, 443, 8000, 8080, 53]);
    const ports = r() < 0.2 ? [] : [{ protocol: pick(["TCP", "UDP", "ANY"] as const), port, ...(r() < 0.3 ? { endPort: port + Math.floor(r() * 200) } : {}) }];
    rules.push({ id: `r${i}`, verdict: r() < 0.3 ? "deny" : "allow", from, ports });
  }
  return {
    defaultVerdict: "allow",
    rules,
    defaultDenyPorts: [
      { protocol: "TCP", port: 8080 },
      { protocol: "UDP", port: 53 },
    ],
  };
}

test("the userspace evaluator decides exactly like the kernel's map entries, for random policies and probes", () => {
  const r = rng(7);
  let probes = 0;
  for (let round = 0; round < 40; round++) {
    const c = compilePolicy(randomModel(r, 1 + Math.floor(r() * 8)));
    const ev = new PolicyEvaluator(c);
    for (let i = 0; i < 150; i++) {
      const ip = r() < 0.75 ? `10.${Math.floor(r() * 4)}.${Math.floor(r() * 4)}.${Math.floor(r() * 256)}` : `fd00:${Math.floor(r() * 5)}::${Math.floor(r() * 65536).toString(16)}`;
      const proto = r() < 0.6 ? TCP : UDP;
      const port = [80, 443, 8000, 8080, 8100, 53, 22, Math.floor(r() * 65536)][Math.floor(r() * 8)]!;
      const want = evaluate(c, ip, proto, port);
      const got = ev.decide(ip, proto, port);
      assert.deepEqual({ verdict: got.allow ? "allow" : "deny", slot: got.slot }, want, `round ${round}: ${ip} ${proto}/${port}`);
      if (!ip.includes(":")) assert.deepEqual(ev.decide(`::ffff:${ip}`, proto, port), got, "IPv4-mapped IPv6 is read as IPv4");
      probes++;
    }
  }
  assert.equal(probes, 6000);
});

test("default deny scoped to ports: only the listed ports are closed to sources no rule allows", () => {
  const c = compilePolicy({
    defaultVerdict: "allow",
    rules: [
      { id: "office", verdict: "allow", from: [{ cidr: "10.1.0.0/16", except: ["10.1.9.0/24"] }], ports: [{ protocol: "TCP", port: 8080 }] },
      { id: "block", verdict: "deny", from: [{ cidr: "10.1.2.3/32" }], ports: [{ protocol: "TCP", port: 8080 }] },
    ],
    defaultDenyPorts: [{ protocol: "TCP", port: 8080 }],
  });
  const ev = new PolicyEvaluator(c);
  const office = c.slots.get("office");
  assert.deepEqual(ev.decide("10.1.0.7", TCP, 8080), { allow: true, slot: office });
  assert.deepEqual(ev.decide("10.1.9.7", TCP, 8080), { allow: false, slot: SLOT_DEFAULT_DROP }, "except: falls to the port's default deny");
  assert.deepEqual(ev.decide("10.1.2.3", TCP, 8080), { allow: false, slot: c.slots.get("block") }, "deny beats allow");
  assert.deepEqual(ev.decide("192.0.2.1", TCP, 8080), { allow: false, slot: SLOT_DEFAULT_DROP });
  assert.deepEqual(ev.decide("2001:db8::1", TCP, 8080), { allow: false, slot: SLOT_DEFAULT_DROP }, "IPv6 too");
  // Other ports and protocols of the host are not the policy's business.
  assert.deepEqual(ev.decide("192.0.2.1", TCP, 22), { allow: true, slot: SLOT_DEFAULT_PASS });
  assert.deepEqual(ev.decide("192.0.2.1", UDP, 8080), { allow: true, slot: SLOT_DEFAULT_PASS });
  assert.deepEqual(ev.decide("10.1.9.7", TCP, 9901), { allow: true, slot: SLOT_DEFAULT_PASS });
  assert.equal(ev.ruleName(office!), "office");
  assert.equal(ev.ruleName(SLOT_DEFAULT_DROP), "default-deny");
});

test("an empty policy lets everything through", () => {
  const ev = new PolicyEvaluator(compilePolicy({ defaultVerdict: "allow", rules: [] }));
  assert.equal(ev.decide("203.0.113.9", TCP, 80).allow, true);
  assert.equal(ev.decide("not an address", TCP, 80).allow, true);
});
