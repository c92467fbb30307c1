// Kernel L4 load balancing through a real `sluice run --l4-lb-cgroup`: a TCPRoute and a UDPRoute
// with weighted backends; a client process in the test's cgroup reaches the listener address and
// the kernel hands each socket a backend (the gateway's userspace L4 proxy accepts nothing).
// Editing the YAML adds and removes backends: open connections keep theirs, new ones follow.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { LbMaps } from "../../src/ebpf/l4-lb.js";
import { GatewayProcess, freePort } from "../helpers/gateway.js";
import { backendRef, gatewayYaml, l4RouteYaml } from "../helpers/gateway-yaml.js";
import { countBy, lbSkipReason, maglevMovedShare, startClient, tcpNamed, TestCgroup, udpNamed, withinBinomial, type Client, type TcpNamed, type UdpNamed } from "./l4-lb-helpers.js";

const skip = lbSkipReason();
const HOST = "127.0.0.1";

let cg: TestCgroup;
let gw: GatewayProcess;
let client: Client;
let tcp: TcpNamed[] = [];
let udp: UdpNamed[] = [];
let tcpPort: number, udpPort: number, svcPort: number;
/** A Service cluster IP on loopback: nothing listens there, only the kernel rewrite can answer. */
const CLUSTER_IP = "127.0.0.77";

const backend = (name: string, port: number) => `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: {name: ${name}}
spec: {endpoints: [{ip: {address: ${HOST}, port: ${port}}}]}
---
`;

function config(tcpWeights: Record<string, number>, udpWeights: Record<string, number>): string {
  const refs = (w: Record<string, number>) => Object.entries(w).map(([name, weight]) => backendRef(name, weight)).join(", ");
  return `${gatewayYaml("l4", [`{name: tcp, port: ${tcpPort}, protocol: TCP}`, `{name: udp, port: ${udpPort}, protocol: UDP}`])}---
${tcp.map((t) => backend(t.name, t.port)).join("")}${udp.map((u) => backend(u.name, u.port)).join("")}apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  clusterIP: ${CLUSTER_IP}
  ports: [{name: web, port: ${svcPort}, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc-1, labels: {kubernetes.io/service-name: svc}}
addressType: IPv4
ports: [{name: web, port: ${tcp[0]!.port}, protocol: TCP}]
endpoints: [{addresses: ["${HOST}"]}]
---
${l4RouteYaml("TCPRoute", "weighted", "l4", "tcp", refs(tcpWeights))}---
${l4RouteYaml("UDPRoute", "dgram", "l4", "udp", refs(udpWeights))}`;
}

const UDP0 = { u0: 1, u1: 1, u2: 2 };

before(async () => {
  if (skip) return;
  tcp = await Promise.all(["t0", "t1", "t2", "t3"].map((n) => tcpNamed(n)));
  udp = await Promise.all(["u0", "u1", "u2"].map(udpNamed));
  [tcpPort, udpPort, svcPort] = await Promise.all([freePort(), freePort(), freePort()]);
  cg = new TestCgroup();
  gw = await GatewayProcess.start({ files: { "l4.yaml": config({ t0: 1, t1: 2, t2: 3 }, UDP0) }, args: ["--l4-lb-cgroup", cg.path, "--log-level", "info"] });
  client = await startClient(cg.path);
});

after(async () => {
  client?.stop();
  await gw?.stop();
  await Promise.all(tcp.map((t) => t.close()));
  for (const u of udp) u.close();
  await cg?.destroy();
});

/** Sum of a counter over every series whose labels include `listener="<name>"`. */
async function listenerCount(metric: string, listener: string): Promise<number> {
  const text = await (await fetch(gw.admin("/metrics"), { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${metric}{`) && line.includes(`listener="${listener}"`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

function kernelStats(port: number, proto: "TCP" | "UDP", address = HOST) {
  const maps = LbMaps.ofProcess(gw.proc.pid!);
  try {
    const slot = maps.slotOf({ family: 4, address, port }, proto);
    assert.notEqual(slot, undefined, `no VIP entry for ${proto} ${address}:${port}`);
    return { ...maps.stats(slot!), hits: maps.backendHits() };
  } finally {
    maps.close();
  }
}

async function reload(tcpWeights: Record<string, number>, udpWeights: Record<string, number>): Promise<void> {
  const v = (await gw.readyState())?.version ?? 0;
  gw.write("l4.yaml", config(tcpWeights, udpWeights));
  await gw.waitReady(v + 1);
}

test("TCP: the kernel spreads connections by weight; the gateway's userspace proxy accepts none", { skip }, async () => {
  const n = 300;
  const results = (await client.call({ op: "connect", host: HOST, port: tcpPort, n })).results!;
  const counts = countBy(results);
  for (const [name, p] of [["t0", 1 / 6], ["t1", 2 / 6], ["t2", 3 / 6]] as const) {
    assert.ok(withinBinomial(counts[name] ?? 0, n, p), `${name}: ${counts[name]} of ${n}, want ~${(n * p).toFixed(0)} (${JSON.stringify(counts)})`);
  }
  // Each backend saw the client's own source port: there was no proxy hop.
  const seen = new Set(tcp.flatMap((t) => t.peers));
  assert.ok(results.every((x) => seen.has(x.localPort!)), "a connection reached a backend through another socket");
  assert.ok(results.every((x) => x.peerPort === tcpPort), "getpeername() shows the listener port");
  const k = kernelStats(tcpPort, "TCP");
  assert.equal(k.connect, n, "the kernel counted every connect it rewrote");
  // The same counts on /metrics, read from the maps at scrape time.
  const metrics = await (await fetch(gw.admin("/metrics"), { signal: AbortSignal.timeout(5000) })).text();
  const decisions = metrics.split("\n").filter((l) => l.startsWith("sluice_l4lb_decisions_total{") && l.includes('hook="connect"'));
  assert.equal(decisions.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0), n, decisions.join("\n"));
  const picks = metrics.split("\n").filter((l) => l.startsWith("sluice_l4lb_backend_picks_total{") && l.includes(`backend="${HOST}:${tcp[1]!.port}`));
  assert.ok(picks.length === 1 && Number(picks[0]!.slice(picks[0]!.lastIndexOf(" ") + 1)) === counts.t1, picks.join("\n"));
  assert.equal(k.hits.get(`${HOST}:${tcp[1]!.port}`), counts.t1);
  assert.equal(await listenerCount("sluice_l4_connections_total", `tcp-${tcpPort}`), 0, "the userspace proxy accepted a connection");
  // Control: a client outside the cgroup goes through the gateway's listener, and the metric sees it.
  await new Promise<void>((res, rej) => {
    const s = net.connect({ host: HOST, port: tcpPort }, () => s.once("data", () => (s.destroy(), res())));
    s.once("error", rej);
  });
  let proxied = 0;
  for (let i = 0; i < 50 && proxied === 0; i++) {
    proxied = await listenerCount("sluice_l4_connections_total", `tcp-${tcpPort}`);
    if (!proxied) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(proxied, 1, "the connection from outside the cgroup went through the userspace proxy");
  assert.equal(kernelStats(tcpPort, "TCP").connect, n, "nor did the kernel touch it");
});

test("TCP: adding a backend in the YAML keeps open connections on theirs; new ones reach it", { skip }, async () => {
  const opened = (await client.call({ op: "open", host: HOST, port: tcpPort, n: 30 })).results!;
  assert.ok(opened.every((x) => x.backend), JSON.stringify(opened));
  await reload({ t0: 1, t1: 2, t2: 3, t3: 2 }, UDP0);
  const pinged = (await client.call({ op: "ping" })).results!;
  assert.deepEqual(pinged.map((x) => x.backend), opened.map((x) => x.backend), "an open connection changed backend");
  const n = 240;
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: tcpPort, n })).results!);
  assert.ok(withinBinomial(counts.t3 ?? 0, n, 2 / 8), `the new backend: ${JSON.stringify(counts)}`);
  assert.equal((counts.t0 ?? 0) + (counts.t1 ?? 0) + (counts.t2 ?? 0) + (counts.t3 ?? 0), n, JSON.stringify(counts));
});

test("TCP: a backend removed from the YAML gets no new connection; open ones still talk", { skip }, async () => {
  const before = (await client.call({ op: "ping" })).results!;
  await reload({ t0: 1, t2: 3, t3: 2 }, UDP0);
  const n = 200;
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: tcpPort, n })).results!);
  assert.equal(counts.t1, undefined, `removed backend t1 got connections: ${JSON.stringify(counts)}`);
  assert.equal((counts.t0 ?? 0) + (counts.t2 ?? 0) + (counts.t3 ?? 0), n, JSON.stringify(counts));
  assert.deepEqual((await client.call({ op: "ping" })).results, before);
  await client.call({ op: "close" });
});

test("UDP: datagrams are spread by weight in the kernel, replies come from the listener address", { skip }, async () => {
  const n = 200;
  const results = (await client.call({ op: "udp", host: HOST, port: udpPort, n })).results!;
  const counts = countBy(results);
  for (const [name, p] of [["u0", 1 / 4], ["u1", 1 / 4], ["u2", 2 / 4]] as const) {
    assert.ok(withinBinomial(counts[name] ?? 0, n, p), `${name}: ${JSON.stringify(counts)}`);
  }
  assert.ok(results.every((x) => x.from === `${HOST}:${udpPort}`), "a reply did not come from the listener address");
  assert.equal(kernelStats(udpPort, "UDP").sendmsg, n);
  assert.equal(await listenerCount("sluice_l4_connections_total", `udp-${udpPort}`), 0);
});

test("UDP: a backend removed from the YAML gets no datagram; the other sockets keep theirs", { skip }, async () => {
  const before = (await client.call({ op: "udp-again" })).results!;
  await reload({ t0: 1, t2: 3, t3: 2 }, { u0: 1, u2: 2 });
  const afterRemoval = (await client.call({ op: "udp-again" })).results!;
  const counts = countBy(afterRemoval);
  assert.equal(counts.u1, undefined, JSON.stringify(counts));
  assert.equal((counts.u0 ?? 0) + (counts.u2 ?? 0), afterRemoval.length, JSON.stringify(counts));
  const kept = afterRemoval.filter((x, i) => before[i]!.backend !== "u1" && x.backend === before[i]!.backend).length;
  const onSurvivors = before.filter((x) => x.backend !== "u1").length;
  const key = (name: string) => `${HOST}:${udp.find((u) => u.name === name)!.port}`;
  const share = maglevMovedShare({ [key("u0")]: 1, [key("u1")]: 1, [key("u2")]: 2 }, { [key("u0")]: 1, [key("u2")]: 2 });
  assert.ok(withinBinomial(onSurvivors - kept, before.length, share), `${onSurvivors - kept} of ${onSurvivors} sockets left a backend that stayed; the tables move ${(share * 100).toFixed(2)}%`);
});

test("Service cluster IP: connections to clusterIP:port reach its EndpointSlice endpoint", { skip }, async () => {
  const results = (await client.call({ op: "connect", host: CLUSTER_IP, port: svcPort, n: 5 })).results!;
  assert.deepEqual(countBy(results), { t0: 5 });
  assert.ok(results.every((x) => x.peerAddress === CLUSTER_IP && x.peerPort === svcPort), "getpeername() shows the cluster IP");
  assert.equal(kernelStats(svcPort, "TCP", CLUSTER_IP).connect, 5);
});

test("after a clean stop nothing stays attached to the cgroup", { skip }, async () => {
  await gw.stop();
  const counts = countBy((await client.call({ op: "connect", host: HOST, port: tcpPort, n: 3 })).results!);
  assert.deepEqual(counts, { "error:ECONNREFUSED": 3 }, "a connection was still rewritten after the gateway stopped");
});
