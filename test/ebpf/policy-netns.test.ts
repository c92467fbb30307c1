// The edge policy program in the kernel: each test builds its own pair of network namespaces,
// attaches the program to the server side's veth from this process (setns on the main thread),
// and drives real TCP/UDP clients and servers in the namespaces.
// Ports are fixed here on purpose: the servers listen inside a namespace that only this test uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EdgePolicy } from "../../src/ebpf/policy-loader.js";
import type { PolicyModel } from "../../src/ebpf/policy-map.js";
import { CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, BLOCKED_MS, createTopology, ip, kernelTestSkipReason, sleep, type Topology } from "./netns.js";

const skip = kernelTestSkipReason();
const [GOOD, EXCEPTED, BAD] = CLIENT_V4; // 10.77.1.1, 10.77.1.50, 10.77.2.1

async function withPolicy(fn: (t: Topology, p: EdgePolicy) => Promise<void>, mode: "xdp" | "tcx" = "xdp"): Promise<void> {
  const topo = await createTopology();
  let policy: EdgePolicy | undefined;
  try {
    policy = EdgePolicy.load();
    const a = policy.attach(topo.serverIf, { netns: topo.serverNs, mode });
    assert.equal(a.mode, mode);
    await fn(topo, policy);
  } finally {
    policy?.close();
    topo.destroy();
  }
}

const basePolicy: PolicyModel = {
  defaultVerdict: "deny",
  rules: [
    { id: "web", verdict: "allow", from: [{ cidr: "10.77.1.0/24", except: ["10.77.1.50/32"] }], ports: [{ protocol: "TCP", port: 8000, endPort: 8099 }] },
    { id: "bad-net", verdict: "deny", from: [{ cidr: "10.77.2.0/24" }], ports: [] },
    { id: "everyone-8100", verdict: "allow", from: [{ cidr: "10.77.0.0/16" }], ports: [{ protocol: "TCP", port: 8100 }] },
  ],
};

test("XDP: denied sources are dropped in the kernel, allowed ones pass, excepts and port ranges hold", { skip }, async () => {
  await withPolicy(async (t, p) => {
    for (const port of [8000, 8099, 8100, 9000]) await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port });
    p.apply(basePolicy);

    assert.equal(await t.tcp(GOOD, SERVER_V4, 8000), true, "allowed source, first port of the range");
    assert.equal(await t.tcp(GOOD, SERVER_V4, 8099), true, "allowed source, last port of the range");
    assert.equal(await t.tcp(GOOD, SERVER_V4, 9000, BLOCKED_MS), false, "port outside the range");
    assert.equal(await t.tcp(EXCEPTED, SERVER_V4, 8000, BLOCKED_MS), false, "source in the except");
    assert.equal(await t.tcp(EXCEPTED, SERVER_V4, 8100), true, "the except only removes it from the rule that names it");
    assert.equal(await t.tcp(BAD, SERVER_V4, 8100, BLOCKED_MS), false, "a deny rule beats an overlapping allow");

    const seen = await t.server.call({ op: "events" });
    const froms = (seen.events as Array<{ from: string; port: number }>).map((e) => `${e.from}:${e.port}`).sort();
    assert.deepEqual(froms, [`${EXCEPTED}:8100`, `${GOOD}:8000`, `${GOOD}:8099`].sort(), "the server only ever saw the allowed connections");

    const c = p.counters();
    assert.ok((c.rules.get("web")?.packets ?? 0n) >= 4n, "web counted the two handshakes (SYN + ACK each at least)");
    assert.ok((c.rules.get("web")?.bytes ?? 0n) > 0n);
    assert.ok((c.rules.get("bad-net")?.packets ?? 0n) >= 1n, "the deny rule counted the dropped SYN");
    assert.ok(c.defaultDrop.packets >= 2n, "9000 and the except fell to the default deny");
    assert.ok((c.rules.get("everyone-8100")?.packets ?? 0n) >= 2n);
  });
});

test("a live policy update flips the verdict for the next connection, both ways", { skip }, async () => {
  await withPolicy(async (t, p) => {
    await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 8080 });
    p.apply({ defaultVerdict: "allow", rules: [] });
    assert.equal(await t.tcp(GOOD, SERVER_V4, 8080), true);

    const r = p.apply({ defaultVerdict: "allow", rules: [{ id: "block", verdict: "deny", from: [{ cidr: `${GOOD}/32` }], ports: [{ protocol: "TCP", port: 8080 }] }] });
    assert.ok(r.operations > 0);
    assert.equal(await t.tcp(GOOD, SERVER_V4, 8080, BLOCKED_MS), false, "denied right after the update");
    assert.equal(await t.tcp(BAD, SERVER_V4, 8080), true, "other sources unaffected");
    const dropped = p.counters().rules.get("block")?.packets ?? 0n;
    assert.ok(dropped >= 1n);

    p.apply({ defaultVerdict: "allow", rules: [] });
    assert.equal(await t.tcp(GOOD, SERVER_V4, 8080), true, "allowed again once the rule is gone");
    assert.equal(p.compiled().entries.size, 0, "the maps hold nothing for an empty policy");
  });
});

test("UDP: a datagram from a denied source never reaches the socket; an added rule lets the next one in", { skip }, async () => {
  await withPolicy(async (t, p) => {
    await t.server.call({ op: "listen", proto: "udp", host: SERVER_V4, port: 5353 });
    p.apply({ defaultVerdict: "deny", rules: [{ id: "tcp-only", verdict: "allow", from: [{ cidr: "0.0.0.0/0" }], ports: [{ protocol: "TCP", port: 5353 }] }] });
    await t.udp(GOOD, SERVER_V4, 5353);
    await sleep(150);
    assert.deepEqual(await t.seen(), [], "dropped: the UDP rule set has no entry for it");
    const before = p.counters().defaultDrop.packets;
    assert.ok(before >= 1n);

    p.apply({ defaultVerdict: "deny", rules: [{ id: "dns", verdict: "allow", from: [{ cidr: "10.77.1.0/24" }], ports: [{ protocol: "UDP", port: 5000, endPort: 5999 }] }] });
    await t.udp(GOOD, SERVER_V4, 5353);
    await t.udp(BAD, SERVER_V4, 5353);
    const deadline = Date.now() + 2000;
    let seen: Array<{ from: string }> = [];
    while (Date.now() < deadline && seen.length === 0) {
      await sleep(50);
      seen = await t.seen();
    }
    await sleep(100);
    seen.push(...(await t.seen()));
    assert.deepEqual(
      seen.map((e) => e.from),
      [GOOD],
    );
    assert.equal(p.counters().rules.get("dns")?.packets, 1n);
  });
});

test("IPv6: prefix allow with an except; neighbour discovery keeps working under default deny", { skip }, async () => {
  await withPolicy(async (t, p) => {
    await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V6, port: 8443 });
    p.apply({ defaultVerdict: "deny", rules: [{ id: "v6", verdict: "allow", from: [{ cidr: "fd77::/64", except: [`${CLIENT_V6[1]}/128`] }], ports: [{ protocol: "TCP", port: 8443 }] }] });
    assert.equal(await t.tcp(CLIENT_V6[0], SERVER_V6, 8443), true);
    assert.equal(await t.tcp(CLIENT_V6[1], SERVER_V6, 8443, BLOCKED_MS), false);
    assert.deepEqual(
      (await t.seen()).map((e) => e.from),
      [CLIENT_V6[0]],
    );
    assert.ok((p.counters().rules.get("v6")?.packets ?? 0n) >= 2n);
    assert.ok(p.counters().notIp.packets >= 1n, "neighbour discovery was passed without a rule");
  });
});

test("tcx ingress: the same decisions when attached with tcx, and close() detaches", { skip }, async () => {
  const topo = await createTopology();
  let policy: EdgePolicy | undefined;
  try {
    policy = EdgePolicy.load();
    assert.equal(policy.attach(topo.serverIf, { netns: topo.serverNs, mode: "tcx" }).mode, "tcx");
    await topo.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 8000 });
    policy.apply(basePolicy);
    assert.equal(await topo.tcp(GOOD, SERVER_V4, 8000), true);
    assert.equal(await topo.tcp(EXCEPTED, SERVER_V4, 8000, BLOCKED_MS), false);
    assert.ok((policy.counters().rules.get("web")?.packets ?? 0n) >= 2n);
    policy.close();
    policy = undefined;
    assert.equal(await topo.tcp(EXCEPTED, SERVER_V4, 8000), true, "nothing is left attached after close()");
  } finally {
    policy?.close();
    topo.destroy();
  }
});

test("VLAN-tagged traffic on the attached interface is judged like untagged traffic", { skip }, async (tc) => {
  await withPolicy(async (t, p) => {
    // VLAN 100 on top of both veth ends; the program stays on the server's parent veth.
    try {
      ip("-n", t.clientNs, "link", "add", "link", t.clientIf, "name", "vl100", "type", "vlan", "id", "100");
    } catch (e) {
      if (/Unknown device type/.test((e as Error).message)) return tc.skip("this kernel has no 802.1Q (vlan) support");
      throw e;
    }
    ip("-n", t.serverNs, "link", "add", "link", t.serverIf, "name", "vl100", "type", "vlan", "id", "100");
    ip("-n", t.clientNs, "addr", "add", "10.78.0.2/24", "dev", "vl100");
    ip("-n", t.clientNs, "addr", "add", "10.78.0.3/24", "dev", "vl100");
    ip("-n", t.serverNs, "addr", "add", "10.78.0.1/24", "dev", "vl100");
    ip("-n", t.clientNs, "link", "set", "vl100", "up");
    ip("-n", t.serverNs, "link", "set", "vl100", "up");
    await t.server.call({ op: "listen", proto: "tcp", host: "10.78.0.1", port: 8000 });
    p.apply({ defaultVerdict: "allow", rules: [{ id: "no-vlan-host", verdict: "deny", from: [{ cidr: "10.78.0.3/32" }], ports: [] }] });
    assert.equal(await t.tcp("10.78.0.2", "10.78.0.1", 8000), true);
    assert.equal(await t.tcp("10.78.0.3", "10.78.0.1", 8000, BLOCKED_MS), false, "the tagged SYN from the denied host was dropped");
    assert.deepEqual(
      (await t.seen()).map((e) => e.from),
      ["10.78.0.2"],
    );
    assert.ok((p.counters().rules.get("no-vlan-host")?.packets ?? 0n) >= 1n);
  });
});

test("auto mode falls back to tcx when another XDP program holds the interface", { skip }, async () => {
  const topo = await createTopology();
  let policy: EdgePolicy | undefined;
  try {
    // Someone else's XDP program, attached the old way (netlink, no link): ours cannot take XDP.
    const obj = new URL("../../dist/bpf/policy.bpf.o", import.meta.url).pathname;
    ip("-n", topo.serverNs, "link", "set", "dev", topo.serverIf, "xdp", "obj", obj, "sec", "xdp");
    policy = EdgePolicy.load();
    const a = policy.attach(topo.serverIf, { netns: topo.serverNs });
    assert.equal(a.mode, "tcx");
    await topo.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 8000 });
    policy.apply(basePolicy);
    assert.equal(await topo.tcp(GOOD, SERVER_V4, 8000), true);
    assert.equal(await topo.tcp(EXCEPTED, SERVER_V4, 8000, BLOCKED_MS), false);
    assert.throws(() => policy?.attach(topo.serverIf, { netns: topo.serverNs, mode: "xdp" }), /EBUSY/, "forcing XDP reports why");
  } finally {
    policy?.close();
    topo.destroy();
  }
});
