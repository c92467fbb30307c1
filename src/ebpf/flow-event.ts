// The flow event the edge program puts on its ring buffer (struct flow_event in bpf/policy.bpf.c;
// keep both in step), decoded, and turned into a flow-stream record.
import { protocolName, type FlowRecord } from "../observe/flow-record.js";
import { SLOT_DEFAULT_DROP, SLOT_DEFAULT_PASS } from "./policy-map.js";

export const FLOW_EVENT_SIZE = 80;
const FLOW_EVENT_NEW = 1;
const FLOW_EVENT_DROP = 2;
const VERDICT_DENY = 2;

export interface KernelFlowEvent {
  type: "new" | "drop";
  verdict: "allow" | "deny";
  /** CLOCK_MONOTONIC nanoseconds of the packet. */
  tsNs: bigint;
  /** Drop events: monotonic time of this tuple's previous drop event (0n for its first). */
  previousNs: bigint;
  packets: number;
  bytes: number;
  /** Counter slot of the rule that decided (0/1: default pass/drop). */
  slot: number;
  ifindex: number;
  proto: number;
  family: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text form: lowercase, leading zeros dropped, the longest run of zero groups as "::". */
export function ipv6(b: Buffer, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(at + i * 2));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Decodes one event; throws when the buffer is shorter than an event. */
export function decodeFlowEvent(b: Buffer, at = 0): KernelFlowEvent {
  if (b.length - at < FLOW_EVENT_SIZE) throw new RangeError(`a flow event is ${FLOW_EVENT_SIZE} bytes, got ${b.length - at}`);
  const type = b[at + 40];
  const family = b[at + 43] === 6 ? 6 : 4;
  return {
    type: type === FLOW_EVENT_DROP ? "drop" : "new",
    verdict: b[at + 41] === VERDICT_DENY ? "deny" : "allow",
    tsNs: b.readBigUInt64LE(at),
    previousNs: type === FLOW_EVENT_NEW ? 0n : b.readBigUInt64LE(at + 8),
    packets: Number(b.readBigUInt64LE(at + 16)),
    bytes: Number(b.readBigUInt64LE(at + 24)),
    slot: b.readUInt32LE(at + 32),
    ifindex: b.readUInt32LE(at + 36),
    proto: b[at + 42]!,
    family,
    sport: b.readUInt16BE(at + 44),
    dport: b.readUInt16BE(at + 46),
    saddr: family === 4 ? ipv4(b, at + 48) : ipv6(b, at + 48),
    daddr: family === 4 ? ipv4(b, at + 64) : ipv6(b, at + 64),
  };
}

export interface KernelRecordOptions {
  /** Wall-clock ns minus monotonic ns (see monotonicToWallNs). */
  wallOffsetNs: bigint;
  /** Rule id for a counter slot (the policy's compiled slots); the defaults are named here. */
  ruleName?: (slot: number) => string | undefined;
}

/** The offset that turns bpf_ktime_get_ns() values into wall-clock ns (both clocks read now). */
export function monotonicToWallNs(): bigint {
  // process.hrtime is CLOCK_MONOTONIC on Linux, the clock bpf_ktime_get_ns reads.
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

function iso(ns: bigint, offset: bigint): string {
  return new Date(Number((ns + offset) / 1_000_000n)).toISOString();
}

export function kernelFlowRecord(e: KernelFlowEvent, opts: KernelRecordOptions): FlowRecord {
  const rule = opts.ruleName?.(e.slot) ?? (e.slot === SLOT_DEFAULT_PASS ? "default-allow" : e.slot === SLOT_DEFAULT_DROP ? "default-deny" : `slot-${e.slot}`);
  return {
    time: iso(e.tsNs, opts.wallOffsetNs),
    source: "kernel",
    type: e.type,
    verdict: e.verdict === "deny" ? "dropped" : "forwarded",
    protocol: protocolName(e.proto),
    src: { ip: e.saddr, port: e.sport },
    dst: { ip: e.daddr, port: e.dport },
    rule,
    packets: e.packets,
    bytes: e.bytes,
    ifindex: e.ifindex,
    ...(e.type === "drop" && e.previousNs > 0n ? { since: iso(e.previousNs, opts.wallOffsetNs) } : {}),
  };
}
