// Flow events from the edge program, in the kernel: a pair of network namespaces, the policy
// program on the server side's veth with flow events on, real connections from the client side.
// Counts are exact for the tuples the test makes (the kernel may also see its own background IPv6
// traffic on the link, which the assertions leave out by protocol and port).
// Drops are reported once per 5-tuple per interval (default 1 s), each event carrying the packets
// dropped since the previous one; with an interval of 0, every dropped packet is an event.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { EdgePolicy, inNetns } from "../../src/ebpf/policy-loader.js";
import { FlowReader } from "../../src/ebpf/flow-reader.js";
import type { KernelFlowEvent } from "../../src/ebpf/flow-event.js";
import { FlowHub } from "../../src/observe/flow-hub.js";
import type { PolicyModel } from "../../src/ebpf/policy-map.js";
import { CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, createTopology, kernelTestSkipReason, mountTestBpffs, sleep, type Topology } from "./netns.js";

const skip = kernelTestSkipReason();
const [GOOD, , BAD] = CLIENT_V4; // 10.77.1.1, 10.77.2.1

const policy: PolicyModel = {
  defaultVerdict: "deny",
  rules: [
    { id: "web", verdict: "allow", from: [{ cidr: "10.77.1.0/24" }, { cidr: "fd77::/64" }], ports: [{ protocol: "TCP", port: 8000 }, { protocol: "TCP", port: 8443 }] },
    { id: "bad-net", verdict: "deny", from: [{ cidr: "10.77.2.0/24" }], ports: [] },
  ],
};

function ruleNames(p: EdgePolicy): (slot: number) => string | undefined {
  return (slot) => [...p.compiled().slots].find(([, s]) => s === slot)?.[0];
}

/** Runs a small ES module in the client namespace; it prints one JSON value. */
function inClient(t: Topology, code: string): unknown {
  const r = spawnSync("ip", ["netns", "exec", t.clientNs, process.execPath, "--input-type=module", "-e", code], { encoding: "utf8", timeout: 15_000 });
  if (r.status !== 0) throw new Error(`client script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

/** TCP connects from fixed source ports; true where the handshake completed. */
function connect(t: Topology, from: string, to: string, port: number, sports: number[], timeoutMs: number): boolean[] {
  return inClient(
    t,
    `import net from "node:net";
     const out = [];
     for (const lp of ${JSON.stringify(sports)}) {
       out.push(await new Promise((res) => {
         const s = net.connect({ host: ${JSON.stringify(to)}, port: ${port}, localAddress: ${JSON.stringify(from)}, localPort: lp });
         const t = setTimeout(() => { s.destroy(); res(false); }, ${timeoutMs});
         s.on("connect", () => { clearTimeout(t); s.end(); res(true); });
         s.on("error", () => { clearTimeout(t); res(false); });
       }));
     }
     console.log(JSON.stringify(out));`,
  ) as boolean[];
}

/** `count` UDP datagrams of `size` bytes from one source port. */
function udpBurst(t: Topology, from: string, sport: number, to: string, port: number, count: number, size: number): void {
  inClient(
    t,
    `import dgram from "node:dgram";
     const s = dgram.createSocket("udp4");
     await new Promise((r) => s.bind(${sport}, ${JSON.stringify(from)}, r));
     for (let i = 0; i < ${count}; i++) await new Promise((r) => s.send(Buffer.alloc(${size}), ${port}, ${JSON.stringify(to)}, r));
     s.close();
     console.log("true");`,
  );
}

const ports = (base: number, n: number): number[] => Array.from({ length: n }, (_, i) => base + i + Math.floor(Math.random() * 1000) * 8);

async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn() && Date.now() < deadline) await sleep(20);
}

let runs = 0;

/** As the eBPF manager runs it: loaded with a pin directory, linked in the server namespace, the reader on the object's maps. */
async function withFlows(fn: (t: Topology, p: EdgePolicy, events: KernelFlowEvent[], reader: FlowReader) => Promise<void>, dropIntervalMs?: number): Promise<void> {
  const topo = await createTopology();
  let bpffs: ReturnType<typeof mountTestBpffs> | undefined;
  let p: EdgePolicy | undefined;
  let reader: FlowReader | undefined;
  try {
    bpffs = mountTestBpffs();
    const edge = EdgePolicy.load(undefined, { pinDir: `${bpffs.path}/sluice-flows-test-${runs++}` });
    p = edge;
    const a = inNetns(topo.serverNs, () => edge.attachPinned(topo.serverIf, "xdp"));
    assert.equal(a?.mode, "xdp");
    p.apply(policy);
    const events: KernelFlowEvent[] = [];
    reader = new FlowReader((name) => edge.mapFd(name), (e) => events.push(e), { ruleName: ruleNames(p), waitMs: 50, ...(dropIntervalMs !== undefined ? { dropIntervalMs } : {}) });
    reader.start();
    await fn(topo, p, events, reader);
  } finally {
    await reader?.stop();
    p?.close({ unpin: true });
    bpffs?.dispose();
    topo.destroy();
  }
}

const ours = (events: KernelFlowEvent[], proto: number, dport: number) => events.filter((e) => e.proto === proto && e.dport === dport);

test("one new-flow event per allowed connection, one drop event per denied connection, with 5-tuple, rule and verdict", { skip }, async () => {
  await withFlows(async (t, p, events, reader) => {
    await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 8000 });
    await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V6, port: 8443 });
    await t.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 9000 });
    const before = Date.now();
    const okPorts = ports(41000, 3);
    assert.deepEqual(connect(t, GOOD, SERVER_V4, 8000, okPorts, 3000), [true, true, true]);
    const badPorts = ports(42000, 2);
    assert.deepEqual(connect(t, BAD, SERVER_V4, 8000, badPorts, 300), [false, false]);
    const offPort = ports(43000, 1);
    assert.deepEqual(connect(t, GOOD, SERVER_V4, 9000, offPort, 300), [false]);
    const v6Port = ports(44000, 1);
    assert.deepEqual(connect(t, CLIENT_V6[0], SERVER_V6, 8443, v6Port, 3000), [true]);
    const after = Date.now();
    await until(() => ours(events, 6, 8000).length >= 5 && ours(events, 6, 9000).length >= 1 && ours(events, 6, 8443).length >= 1);
    await sleep(100); // nothing more may arrive

    const web = ours(events, 6, 8000);
    const news = web.filter((e) => e.type === "new");
    assert.equal(news.length, 3, "one new-flow event per allowed connection (not per packet)");
    assert.deepEqual(news.map((e) => e.sport).sort(), [...okPorts].sort());
    for (const e of news) {
      assert.equal(e.verdict, "allow");
      assert.equal(e.family, 4);
      assert.equal(e.saddr, GOOD);
      assert.equal(e.daddr, SERVER_V4);
      assert.equal(e.dport, 8000);
      assert.equal(e.packets, 1);
      assert.ok(e.bytes >= 54 && e.bytes <= 128, `the SYN's frame size, got ${e.bytes}`);
      assert.equal(reader.record(e).rule, "web");
      const ms = Date.parse(reader.record(e).time);
      assert.ok(ms >= before - 50 && ms <= after + 50, "the event's time is the packet's wall-clock time");
    }
    const drops = web.filter((e) => e.type === "drop");
    assert.equal(drops.length, 2, "one drop event per denied connection (its one SYN within 300 ms)");
    assert.deepEqual(drops.map((e) => e.sport).sort(), [...badPorts].sort());
    for (const e of drops) {
      assert.equal(e.verdict, "deny");
      assert.equal(e.saddr, BAD);
      assert.equal(e.packets, 1);
      assert.equal(reader.record(e).rule, "bad-net");
      assert.equal(reader.record(e).verdict, "dropped");
    }
    const off = ours(events, 6, 9000);
    assert.equal(off.length, 1);
    assert.equal(off[0]!.type, "drop");
    assert.equal(off[0]!.sport, offPort[0]);
    assert.equal(reader.record(off[0]!).rule, "default-deny", "no rule matched: the default verdict decided");

    const v6 = ours(events, 6, 8443);
    assert.equal(v6.length, 1);
    assert.equal(v6[0]!.type, "new");
    assert.equal(v6[0]!.family, 6);
    assert.equal(v6[0]!.saddr, CLIENT_V6[0]);
    assert.equal(v6[0]!.daddr, SERVER_V6);
    assert.equal(v6[0]!.sport, v6Port[0]);

    // The policy counters agree with the events: every web drop was a single SYN.
    assert.equal(p.counters().rules.get("bad-net")?.packets, 2n);
    assert.equal(reader.lost(), 0);

    // Through the hub, as the gateway serves them: kernel records with the shared filter.
    const hub = new FlowHub();
    for (const e of events) hub.publish(reader.record(e));
    const dropped = await hub.recent(100, { verdict: ["dropped"], from: ["10.77.2.0/24"] });
    assert.deepEqual(dropped.map((r) => `${r.src.ip}:${r.src.port}>${r.dst.port} ${r.rule}`).sort(), badPorts.map((sp) => `${BAD}:${sp}>8000 bad-net`).sort());
  });
});

test("drops are rate-limited per 5-tuple: first at once, the rest summed into the next event after the interval", { skip }, async () => {
  await withFlows(async (t, _p, events) => {
    const sport = ports(45000, 1)[0]!;
    udpBurst(t, BAD, sport, SERVER_V4, 5353, 5, 100);
    await until(() => ours(events, 17, 5353).length >= 1);
    await sleep(150);
    let udp = ours(events, 17, 5353);
    assert.equal(udp.length, 1, "five drops of one tuple inside the interval: one event");
    assert.equal(udp[0]!.packets, 1);
    assert.equal(udp[0]!.sport, sport);
    assert.equal(udp[0]!.previousNs, 0n, "the tuple's first drop event");

    await sleep(450); // past the 500 ms interval
    udpBurst(t, BAD, sport, SERVER_V4, 5353, 1, 100);
    await until(() => ours(events, 17, 5353).length >= 2);
    await sleep(100);
    udp = ours(events, 17, 5353);
    assert.equal(udp.length, 2);
    assert.equal(udp[1]!.packets, 5, "the 4 suppressed drops plus this one");
    assert.equal(udp[1]!.bytes, 5 * (14 + 20 + 8 + 100), "their frame bytes");
    assert.equal(udp[1]!.previousNs, udp[0]!.tsNs, "it covers the time since the previous event");

    // Another source port is another tuple: reported at once.
    udpBurst(t, BAD, sport + 1, SERVER_V4, 5353, 3, 10);
    await until(() => ours(events, 17, 5353).length >= 3);
    await sleep(100);
    assert.equal(ours(events, 17, 5353).length, 3);
  }, 500);
});

test("with a drop interval of 0 every dropped packet is an event; stop() turns events off in the kernel", { skip }, async () => {
  await withFlows(async (t, _p, events, reader) => {
    const sport = ports(46000, 1)[0]!;
    udpBurst(t, BAD, sport, SERVER_V4, 5353, 7, 20);
    await until(() => ours(events, 17, 5353).length >= 7);
    await sleep(100);
    const udp = ours(events, 17, 5353);
    assert.equal(udp.length, 7);
    assert.ok(udp.every((e) => e.packets === 1 && e.type === "drop" && e.sport === sport));
    assert.equal(reader.events, events.length);

    await reader.stop();
    const n = events.length;
    udpBurst(t, BAD, sport + 1, SERVER_V4, 5353, 3, 20);
    await sleep(200);
    assert.equal(events.length, n, "no events once stopped");
  }, 0);
});
