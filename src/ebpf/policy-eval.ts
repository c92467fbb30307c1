// The userspace twin of bpf/policy.bpf.c: decides (source address, protocol, destination port)
// from the very map entries compilePolicy() produces for the kernel, with the same two
// longest-prefix lookups. Built once per snapshot; a decision is a handful of Map lookups, cheap
// enough to run on every accepted connection and every UDP datagram.
import { isIPv4 } from "node:net";
import {
  SLOT_DEFAULT_DROP,
  SLOT_DEFAULT_PASS,
  SLOT_NOT_IP,
  VERDICT_DENY,
  type CompiledPolicy,
} from "./policy-map.js";

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export interface Decision {
  allow: boolean;
  /** Counter slot of the rule that decided (SLOT_DEFAULT_PASS / SLOT_DEFAULT_DROP for defaults). */
  slot: number;
}

interface PortRow {
  /** 32: any protocol/port; 40: any port of `proto`; 41..56: a port block. */
  prefixlen: number;
  proto: number;
  port: number;
  mask: number;
  decision: Decision;
}

/** Prefix table of one family: longest length first; key = masked address. */
interface SourceTable<K> {
  lens: number[];
  byLen: Map<number, Map<K, number>>;
}

const PASS: Decision = { allow: true, slot: SLOT_DEFAULT_PASS };
const DROP: Decision = { allow: false, slot: SLOT_DEFAULT_DROP };
const OFF: Decision = { allow: true, slot: SLOT_NOT_IP };

export class PolicyEvaluator {
  private readonly v4: SourceTable<number> = { lens: [], byLen: new Map() };
  private readonly v6: SourceTable<string> = { lens: [], byLen: new Map() };
  private readonly classes = new Map<number, PortRow[]>();
  private readonly fallback: Decision;
  /** slot -> rule id, for counters and logs. */
  readonly ruleOfSlot = new Map<number, string>();

  constructor(readonly compiled: CompiledPolicy) {
    this.fallback = !compiled.enabled ? OFF : compiled.defaultVerdict === "deny" ? DROP : PASS;
    for (const [id, slot] of compiled.slots) this.ruleOfSlot.set(slot, id);
    for (const e of compiled.entries.values()) {
      if (e.map === "ports") {
        const cls = e.key.readUInt32LE(4);
        const bits = Math.max(0, e.prefixlen - 40);
        const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
        const slot = e.value.readUInt32LE(0);
        const row: PortRow = {
          prefixlen: e.prefixlen,
          proto: e.key.readUInt8(8),
          port: e.key.readUInt16BE(9),
          mask,
          decision: { allow: e.value.readUInt32LE(4) !== VERDICT_DENY, slot },
        };
        const rows = this.classes.get(cls);
        if (rows) rows.push(row);
        else this.classes.set(cls, [row]);
      } else if (e.map === "src4") {
        add(this.v4, e.prefixlen, e.key.readUInt32BE(4), e.value.readUInt32LE(0));
      } else {
        add(this.v6, e.prefixlen, e.key.subarray(4).toString("hex"), e.value.readUInt32LE(0));
      }
    }
    for (const rows of this.classes.values()) rows.sort((a, b) => b.prefixlen - a.prefixlen);
    this.v4.lens.sort((a, b) => b - a);
    this.v6.lens.sort((a, b) => b - a);
  }

  get enabled(): boolean {
    return this.compiled.enabled;
  }

  /** The rule id a slot counts for, or "default-allow" / "default-deny" / "not-ip". */
  ruleName(slot: number): string {
    if (slot === SLOT_DEFAULT_PASS) return "default-allow";
    if (slot === SLOT_DEFAULT_DROP) return "default-deny";
    if (slot === SLOT_NOT_IP) return "not-ip";
    return this.ruleOfSlot.get(slot) ?? `slot-${slot}`;
  }

  /**
   * Decides a packet/connection from `address` (as a socket reports it; IPv4-mapped IPv6 is read
   * as the IPv4 address the kernel saw) to `port` over `proto` (6 TCP, 17 UDP).
   */
  decide(address: string, proto: number, port: number): Decision {
    if (!this.compiled.enabled) return OFF;
    let cls: number | undefined;
    const v4 = address.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address;
    if (isIPv4(v4)) cls = lookup4(this.v4, v4);
    else cls = lookup6(this.v6, address);
    if (cls !== undefined) {
      const rows = this.classes.get(cls);
      if (rows) {
        for (const r of rows) {
          if (r.prefixlen > 32 && r.proto !== proto) continue;
          if ((port & r.mask) !== r.port) continue;
          return r.decision;
        }
      }
    }
    return this.fallback;
  }
}

function add<K>(t: SourceTable<K>, len: number, key: K, cls: number): void {
  let m = t.byLen.get(len);
  if (!m) {
    m = new Map();
    t.byLen.set(len, m);
    t.lens.push(len);
  }
  m.set(key, cls);
}

function lookup4(t: SourceTable<number>, ip: string): number | undefined {
  const p = ip.split(".");
  const n = ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
  for (const len of t.lens) {
    const masked = len === 0 ? 0 : (n & (~0 << (32 - len))) >>> 0;
    const cls = t.byLen.get(len)!.get(masked);
    if (cls !== undefined) return cls;
  }
  return undefined;
}

function lookup6(t: SourceTable<string>, ip: string): number | undefined {
  if (t.lens.length === 0) return undefined;
  const bytes = v6Bytes(ip);
  if (!bytes) return undefined;
  for (const len of t.lens) {
    const masked = Buffer.from(bytes);
    for (let i = 0; i < 16; i++) {
      const bits = Math.max(0, Math.min(8, len - i * 8));
      masked[i] &= bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
    }
    const cls = t.byLen.get(len)!.get(masked.toString("hex"));
    if (cls !== undefined) return cls;
  }
  return undefined;
}

/** IPv6 text (no zone) -> 16 bytes; undefined when it is not an IPv6 address. */
function v6Bytes(ip: string): Uint8Array | undefined {
  const at = ip.indexOf("%");
  const s = at < 0 ? ip : ip.slice(0, at);
  const out = new Uint8Array(16);
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return undefined;
    const q = tail.split(".").map(Number);
    out[12] = q[0];
    out[13] = q[1];
    out[14] = q[2];
    out[15] = q[3];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const groups = [...head, ...Array<string>(Math.max(0, fill)).fill("0"), ...rest];
  if (groups.length !== 8) return undefined;
  const keep = tail.includes(".") ? out.slice(12) : undefined;
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i], 16);
    if (!Number.isFinite(g)) return undefined;
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  if (keep) out.set(keep, 12);
  return out;
}
