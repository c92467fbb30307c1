// The decoder of the kernel's flow events (struct flow_event in bpf/policy.bpf.c), checked against
// buffers laid out by hand from the C struct, and the records made from them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFlowEvent, FLOW_EVENT_SIZE, ipv6, kernelFlowRecord, type KernelFlowEvent } from "../../../src/ebpf/flow-event.js";

interface Raw {
  ts: bigint;
  first: bigint;
  packets: bigint;
  bytes: bigint;
  slot: number;
  ifindex: number;
  type: number;
  verdict: number;
  proto: number;
  family: number;
  sport: number;
  dport: number;
  saddr: number[];
  daddr: number[];
}

/** Lays an event out as the C struct does (little-endian host, ports and addresses in network order). */
function encode(r: Raw): Buffer {
  const b = Buffer.alloc(FLOW_EVENT_SIZE);
  b.writeBigUInt64LE(r.ts, 0);
  b.writeBigUInt64LE(r.first, 8);
  b.writeBigUInt64LE(r.packets, 16);
  b.writeBigUInt64LE(r.bytes, 24);
  b.writeUInt32LE(r.slot, 32);
  b.writeUInt32LE(r.ifindex, 36);
  b[40] = r.type;
  b[41] = r.verdict;
  b[42] = r.proto;
  b[43] = r.family;
  b.writeUInt16BE(r.sport, 44);
  b.writeUInt16BE(r.dport, 46);
  Buffer.from(r.saddr).copy(b, 48);
  Buffer.from(r.daddr).copy(b, 64);
  return b;
}

const v4 = (...xs: number[]) => [...xs, ...Array<number>(12).fill(0)];

test("an IPv4 new-flow event decodes field by field", () => {
  const e = decodeFlowEvent(
    encode({ ts: 123_456_789_012n, first: 123_456_789_012n, packets: 1n, bytes: 74n, slot: 7, ifindex: 3, type: 1, verdict: 1, proto: 6, family: 4, sport: 41234, dport: 8000, saddr: v4(10, 77, 1, 1), daddr: v4(10, 77, 0, 1) }),
  );
  assert.deepEqual(e, {
    type: "new",
    verdict: "allow",
    tsNs: 123_456_789_012n,
    previousNs: 0n,
    packets: 1,
    bytes: 74,
    slot: 7,
    ifindex: 3,
    proto: 6,
    family: 4,
    sport: 41234,
    dport: 8000,
    saddr: "10.77.1.1",
    daddr: "10.77.0.1",
  } satisfies KernelFlowEvent);
});

test("an IPv6 drop event: addresses in RFC 5952 form, previous report time kept", () => {
  const s = [0xfd, 0x77, ...Array<number>(13).fill(0), 1];
  const d = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0xff];
  const e = decodeFlowEvent(encode({ ts: 5_000_000_000n, first: 3_000_000_000n, packets: 5n, bytes: 710n, slot: 1, ifindex: 9, type: 2, verdict: 2, proto: 17, family: 6, sport: 53, dport: 5353, saddr: s, daddr: d }));
  assert.equal(e.type, "drop");
  assert.equal(e.verdict, "deny");
  assert.equal(e.saddr, "fd77::1");
  assert.equal(e.daddr, "2001:db8::1:0:0:ff", "of two equal zero runs the first is compressed");
  assert.equal(e.previousNs, 3_000_000_000n);
  assert.equal(e.packets, 5);
  assert.equal(e.bytes, 710);
});

test("IPv6 text form agrees with the URL parser's canonical form on random addresses", () => {
  for (let i = 0; i < 500; i++) {
    const b = Buffer.alloc(16);
    // Many zero groups, in runs, so the "::" choice is exercised.
    for (let g = 0; g < 8; g++) if (Math.random() < 0.45) b.writeUInt16BE(Math.floor(Math.random() * 0x10000), g * 2);
    const ours = ipv6(b, 0);
    assert.equal(`[${ours}]`, new URL(`http://[${ours}]/`).hostname, `${b.toString("hex")} -> ${ours}`);
    // And it names the same address.
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(b.readUInt16BE(g * 2).toString(16));
    assert.equal(new URL(`http://[${groups.join(":")}]/`).hostname, `[${ours}]`);
  }
});

test("an event shorter than the struct is refused, and offsets into a larger buffer work", () => {
  assert.throws(() => decodeFlowEvent(Buffer.alloc(FLOW_EVENT_SIZE - 1)), RangeError);
  const one = encode({ ts: 1n, first: 1n, packets: 1n, bytes: 60n, slot: 0, ifindex: 1, type: 1, verdict: 1, proto: 17, family: 4, sport: 1, dport: 2, saddr: v4(1, 2, 3, 4), daddr: v4(5, 6, 7, 8) });
  const two = Buffer.concat([Buffer.alloc(16), one]);
  assert.deepEqual(decodeFlowEvent(two, 16), decodeFlowEvent(one));
});

test("records: wall-clock time from the monotonic offset, verdicts, rule names, drop 'since'", () => {
  const base: KernelFlowEvent = { type: "new", verdict: "allow", tsNs: 2_000_000_000n, previousNs: 0n, packets: 1, bytes: 74, slot: 0, ifindex: 2, proto: 6, family: 4, saddr: "10.0.0.1", daddr: "10.0.0.2", sport: 40000, dport: 80 };
  const offset = BigInt(Date.UTC(2030, 0, 1)) * 1_000_000n - 1_000_000_000n;
  const r = kernelFlowRecord(base, { wallOffsetNs: offset });
  assert.equal(r.time, "2030-01-01T00:00:01.000Z");
  assert.equal(r.verdict, "forwarded");
  assert.equal(r.rule, "default-allow");
  assert.equal(r.protocol, "TCP");
  assert.deepEqual([r.src, r.dst], [{ ip: "10.0.0.1", port: 40000 }, { ip: "10.0.0.2", port: 80 }]);
  assert.equal(r.since, undefined);

  const drop = kernelFlowRecord({ ...base, type: "drop", verdict: "deny", slot: 1, previousNs: 1_500_000_000n, packets: 4, proto: 132 }, { wallOffsetNs: offset });
  assert.equal(drop.verdict, "dropped");
  assert.equal(drop.rule, "default-deny");
  assert.equal(drop.protocol, "SCTP");
  assert.equal(drop.since, "2030-01-01T00:00:00.500Z");
  assert.equal(drop.packets, 4);

  const named = kernelFlowRecord({ ...base, slot: 12 }, { wallOffsetNs: offset, ruleName: (s) => (s === 12 ? "web" : undefined) });
  assert.equal(named.rule, "web");
  assert.equal(kernelFlowRecord({ ...base, slot: 13, proto: 200 }, { wallOffsetNs: offset }).rule, "slot-13");
  assert.equal(kernelFlowRecord({ ...base, proto: 200 }, { wallOffsetNs: offset }).protocol, "200");
});
