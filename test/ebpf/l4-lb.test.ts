// Kernel L4 load balancing driven directly (no gateway): the loader attaches lb.bpf.o to a cgroup of
// the test's own, a client process in that cgroup connects to a VIP nobody listens on, and the
// cgroup hooks hand each socket a backend from the Maglev table. Established connections keep
// their backend across table swaps; a removed backend gets nothing new; UDP replies come from the VIP.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { formatDoctor, runDoctor } from "../../src/ebpf/doctor.js";
import { L4LoadBalancer } from "../../src/ebpf/l4-lb.js";
import type { LbModel, LbService } from "../../src/ebpf/l4-lb-model.js";
import { freePort } from "../helpers/gateway.js";
import { countBy, lbSkipReason, maglevMovedShare, startClient, tcpNamed, TestCgroup, udpNamed, withinBinomial, type Client, type TcpNamed, type UdpNamed } from "./l4-lb-helpers.js";

const skip = lbSkipReason();
const HOST = "127.0.0.1";
const TABLE = 4099;

let cg: TestCgroup;
let lb: L4LoadBalancer;
let client: Client;
let tcp: TcpNamed[] = [];
let udp: UdpNamed[] = [];
let vipTcp: number, vipUdp: number, vipRefuse: number;

const weightsOf = (list: [{ port: number }, number][]) => Object.fromEntries(list.map(([b, w]) => [`${HOST}:${b.port}`, w]));
const be = (b: { port: number }, weight = 1) => ({ family: 4 as const, address: HOST, port: b.port, weight });
const svc = (name: string, proto: "TCP" | "UDP", port: number, backends: LbService["backends"], refuseWeight = 0): LbService => ({
  name,
  proto,
  vips: [{ family: 4, address: HOST, port }],
  backends,
  refuseWeight,
});

before(async () => {
  if (skip) return;
  tcp = await Promise.all(["t0", "t1", "t2", "t3"].map((n) => tcpNamed(n)));
  udp = await Promise.all(["u0", "u1", "u2", "u3"].map(udpNamed));
  // VIP ports nobody listens on: a connection only succeeds if the kernel rewrote it.
  [vipTcp, vipUdp, vipRefuse] = await Promise.all([freePort(), freePort(), freePort()]);
  cg = new TestCgroup();
  lb = L4LoadBalancer.open({ cgroup: cg.path, tableSize: TABLE });
  client = await startClient(cg.path);
});

after(async () => {
  client?.stop();
  lb?.close();
  await Promise.all(tcp.map((t) => t.close()));
  for (const u of udp) u.close();
  await cg?.destroy();
});

/** The UDP service as the UDP tests leave it. */
const udpNow = () => svc("udp", "UDP", vipUdp, [be(udp[0]!, 1), be(udp[2]!, 2), be(udp[3]!, 1)]);

function model(services: LbService[]): LbModel {
  return { services, skipped: [] };
}

test("TCP: weighted distribution across backends, direct connections, getpeername shows the VIP", { skip }, async () => {
  const r = lb.sync(model([svc("tcp", "TCP", vipTcp, [be(tcp[0]!, 1), be(tcp[1]!, 2), be(tcp[2]!, 3)])]));
  assert.deepEqual(r, { added: ["tcp"], changed: [], removed: [], tables: 1 });
  const n = 300;
  const { results } = await client.call({ op: "connect", host: HOST, port: vipTcp, n });
  const counts = countBy(results!);
  assert.equal(Object.keys(counts).filter((k) => k.startsWith("error")).length, 0, JSON.stringify(counts));
  for (const [name, p] of [["t0", 1 / 6], ["t1", 2 / 6], ["t2", 3 / 6]] as const) {
    assert.ok(withinBinomial(counts[name] ?? 0, n, p), `${name}: ${counts[name]} of ${n}, want ~${(n * p).toFixed(0)} (${JSON.stringify(counts)})`);
  }
  // The backend saw the client's own port (no proxy in between), and the client sees the VIP.
  const seen = new Set(tcp.flatMap((t) => t.peers));
  for (const x of results!) {
    assert.ok(seen.has(x.localPort!), `backend never saw client port ${x.localPort}`);
    assert.equal(x.peerPort, vipTcp, "getpeername() reports the VIP port");
    assert.equal(x.peerAddress, HOST);
  }
  const c = lb.counters().tcp!;
  assert.equal(c.connect, n, "the kernel counted every connect it rewrote");
  assert.equal(c.backends[`${HOST}:${tcp[0]!.port}`]! + c.backends[`${HOST}:${tcp[1]!.port}`]! + c.backends[`${HOST}:${tcp[2]!.port}`]!, n);
  assert.equal(c.backends[`${HOST}:${tcp[1]!.port}`], counts.t1);
});

test("TCP: established connections keep their backend when one is added; new ones reach it", { skip }, async () => {
  const opened = (await client.call({ op: "open", host: HOST, port: vipTcp, n: 30 })).results!;
  assert.ok(opened.every((x) => x.backend), JSON.stringify(opened));
  const r = lb.sync(model([svc("tcp", "TCP", vipTcp, [be(tcp[0]!, 1), be(tcp[1]!, 2), be(tcp[2]!, 3), be(tcp[3]!, 2)])]));
  assert.deepEqual(r.changed, ["tcp"]);
  const pinged = (await client.call({ op: "ping" })).results!;
  assert.deepEqual(pinged.map((x) => x.backend), opened.map((x) => x.backend), "every open connection still talks to its backend");
  const n = 240;
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: vipTcp, n })).results!);
  assert.ok(withinBinomial(counts.t3 ?? 0, n, 2 / 8), `new backend: ${JSON.stringify(counts)}`);
  assert.ok(withinBinomial(counts.t2 ?? 0, n, 3 / 8), `t2: ${JSON.stringify(counts)}`);
});

test("TCP: a removed backend gets no new connections at once; its open ones keep talking", { skip }, async () => {
  const before = (await client.call({ op: "ping" })).results!;
  lb.sync(model([svc("tcp", "TCP", vipTcp, [be(tcp[0]!, 1), be(tcp[2]!, 3), be(tcp[3]!, 2)])]));
  const n = 200;
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: vipTcp, n })).results!);
  assert.equal(counts.t1, undefined, `removed backend t1 got connections: ${JSON.stringify(counts)}`);
  assert.equal((counts.t0 ?? 0) + (counts.t2 ?? 0) + (counts.t3 ?? 0), n, JSON.stringify(counts));
  const after = (await client.call({ op: "ping" })).results!;
  assert.deepEqual(after, before);
  await client.call({ op: "close" });
});

test("unresolved share: connect() is refused (EPERM) for its weight, the rest is balanced", { skip }, async () => {
  lb.sync(model([svc("tcp", "TCP", vipTcp, [be(tcp[0]!)]), svc("refuse", "TCP", vipRefuse, [be(tcp[0]!, 1)], 1)]));
  const n = 100;
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: vipRefuse, n })).results!);
  assert.ok(withinBinomial(counts["error:EPERM"] ?? 0, n, 0.5), JSON.stringify(counts));
  assert.equal((counts["error:EPERM"] ?? 0) + (counts.t0 ?? 0), n, JSON.stringify(counts));
  const stats = lb.counters().refuse!;
  assert.equal(stats.refused, counts["error:EPERM"]);
});

test("UDP: unconnected sockets are balanced by weight and replies come from the VIP", { skip }, async () => {
  lb.sync(model([svc("udp", "UDP", vipUdp, [be(udp[0]!, 1), be(udp[1]!, 1), be(udp[2]!, 2)])]));
  const n = 200;
  const results = (await client.call({ op: "udp", host: HOST, port: vipUdp, n })).results!;
  const counts = countBy(results);
  for (const [name, p] of [["u0", 1 / 4], ["u1", 1 / 4], ["u2", 2 / 4]] as const) {
    assert.ok(withinBinomial(counts[name] ?? 0, n, p), `${name}: ${JSON.stringify(counts)}`);
  }
  assert.ok(results.every((x) => x.from === `${HOST}:${vipUdp}`), `replies are seen from the VIP: ${results.find((x) => x.from !== `${HOST}:${vipUdp}`)?.from}`);
  assert.equal(lb.counters().udp!.sendmsg, n);
});

test("UDP: sockets keep their backend when one is added (Maglev), a removed backend gets no datagrams", { skip }, async () => {
  const first = (await client.call({ op: "udp-again" })).results!;
  lb.sync(model([svc("udp", "UDP", vipUdp, [be(udp[0]!, 1), be(udp[1]!, 1), be(udp[2]!, 2), be(udp[3]!, 1)])]));
  const second = (await client.call({ op: "udp-again" })).results!;
  let kept = 0;
  let movedElsewhere = 0;
  second.forEach((x, i) => {
    if (x.backend === first[i]!.backend) kept++;
    else if (x.backend !== "u3") movedElsewhere++;
  });
  // Expected: 1/5 of the sockets move to the new backend; between the old ones only as many as the
  // tables themselves move (a fraction of a percent for most port sets, a few percent for some).
  const w3 = weightsOf([[udp[0]!, 1], [udp[1]!, 1], [udp[2]!, 2]]);
  const w4 = weightsOf([[udp[0]!, 1], [udp[1]!, 1], [udp[2]!, 2], [udp[3]!, 1]]);
  const wNow = weightsOf([[udp[0]!, 1], [udp[2]!, 2], [udp[3]!, 1]]);
  const addShare = maglevMovedShare(w3, w4, TABLE);
  lb.sync(model([udpNow()]));
  assert.ok(withinBinomial(second.length - kept, second.length, 1 / 5 + addShare), `moved ${second.length - kept} of ${second.length}`);
  assert.ok(withinBinomial(movedElsewhere, second.length, addShare), `${movedElsewhere} of ${second.length} sockets moved between old backends; the tables move ${(addShare * 100).toFixed(2)}% of entries between them`);
  const third = (await client.call({ op: "udp-again" })).results!;
  const counts = countBy(third);
  assert.equal(counts.u1, undefined, JSON.stringify(counts));
  assert.equal((counts.u0 ?? 0) + (counts.u2 ?? 0) + (counts.u3 ?? 0), third.length, JSON.stringify(counts));
  // Sockets that were not on the removed backend stay where they were.
  const stayed = third.filter((x, i) => second[i]!.backend !== "u1" && x.backend === second[i]!.backend).length;
  const onSurvivors = second.filter((x) => x.backend !== "u1").length;
  const removeShare = maglevMovedShare(w4, wNow, TABLE);
  assert.ok(withinBinomial(onSurvivors - stayed, second.length, removeShare), `${onSurvivors - stayed} of ${onSurvivors} sockets left a backend that stayed; the tables move ${(removeShare * 100).toFixed(2)}%`);
});

test("UDP: a connected socket is rewritten at connect() and reports the VIP as its peer", { skip }, async () => {
  const r = await client.call({ op: "udp-connected", host: HOST, port: vipUdp });
  assert.match(String(r.backend), /^u[023]$/);
  assert.equal(r.peer, `${HOST}:${vipUdp}`);
  assert.equal(r.from, `${HOST}:${vipUdp}`);
});

test("IPv6: connect6 balances a [::1] VIP across [::1] backends and getpeername shows the VIP", { skip }, async () => {
  const v6 = await Promise.all(["s0", "s1"].map((n) => tcpNamed(n, "::1")));
  try {
    const port = await freePort("::1");
    // The UDP service stays (later tests read it); v6 is added next to it and removed after.
    const r = lb.sync(model([udpNow(), { name: "v6", proto: "TCP", vips: [{ family: 6, address: "::1", port }], backends: v6.map((b) => ({ family: 6 as const, address: "::1", port: b.port, weight: 1 })), refuseWeight: 0 }]));
    // Diff-based: the unchanged UDP service is not touched, only the new one gets a table.
    assert.deepEqual(r, { added: ["v6"], changed: [], removed: [], tables: 1 });
    const n = 100;
    const results = (await client.call({ op: "connect", host: "::1", port, n })).results!;
    const counts = countBy(results);
    assert.ok(withinBinomial(counts.s0 ?? 0, n, 0.5) && (counts.s0 ?? 0) + (counts.s1 ?? 0) === n, JSON.stringify(counts));
    assert.ok(results.every((x) => x.peerPort === port && x.peerAddress === "::1"));
    assert.equal(lb.counters().v6!.connect, n);
    assert.deepEqual(lb.sync(model([udpNow()])).removed, ["v6"]);
  } finally {
    await Promise.all(v6.map((b) => b.close()));
  }
});

test("doctor reports the L4 LB program, the cgroup and per-service counters", { skip }, () => {
  const r = runDoctor({ l4Lb: lb });
  assert.equal(r.l4LbProgram?.loads, true, r.l4LbProgram?.error);
  assert.equal(r.l4Lb?.cgroup, cg.path);
  assert.equal(r.l4Lb?.tableSize, 4099);
  assert.ok((r.l4Lb?.services.udp?.sendmsg ?? 0) >= 200, JSON.stringify(r.l4Lb?.services));
  const text = formatDoctor(r);
  assert.match(text, /^l4 lb program\s+\S+lb\.bpf\.o \(loads\)$/m);
  assert.match(text, /^  udp: \d+ connects, \d+ datagrams/m);
});

test("services removed from the model leave the kernel; after close nothing is attached", { skip }, async () => {
  // Each sync is the whole model: the UDP tests' models already dropped the TCP services.
  const r = lb.sync(model([]));
  assert.deepEqual(r.removed, ["udp"]);
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: vipTcp, n: 3 })).results!);
  assert.deepEqual(counts, { "error:ECONNREFUSED": 3 }, "with no VIP entry the connection goes where it was addressed");
  lb.sync(model([svc("tcp", "TCP", vipTcp, [be(tcp[0]!)])]));
  assert.deepEqual(countBy((await client.call({ op: "connect", host: HOST, port: vipTcp, n: 2 })).results!), { t0: 2 });
  lb.close();
  assert.deepEqual(countBy((await client.call({ op: "connect", host: HOST, port: vipTcp, n: 2 })).results!), { "error:ECONNREFUSED": 2 });
});
