// The pure half of the edge policy: compiles a policy model into the exact map entries
// bpf/policy.bpf.c reads, and diffs two compiled sets into an ordered list of map operations
// that never opens a window (no address ever sees a verdict that is neither the old nor the new).
//
// How the maps encode the model (see bpf/policy.bpf.c):
// * Every CIDR and except becomes a prefix in src4/src6. A prefix's value is a "class": the set of
//   rules that select addresses whose longest matching prefix is this one. Because the prefixes
//   containing an address are exactly those containing its longest match, that set is a function
//   of the longest match alone, so excepts cost nothing at packet time.
// * A class's port table (protocol + port ranges -> verdict + rule slot) goes into the `ports` trie.
//   Overlaps are resolved here (deny beats allow; the first rule in order gets the counter), so
//   the table is disjoint and longest-prefix is the right lookup. Class ids are a hash of the
//   table's content: a class id never changes meaning, which is what makes updates window-free.
import { createHash } from "node:crypto";
import { contains, parseCidr, prefixKey, truncate, type Prefix } from "./cidr.js";

export type Verdict = "allow" | "deny";
export type Protocol = "TCP" | "UDP" | "SCTP" | "ANY";

export interface PortMatch {
  protocol: Protocol;
  /** First port (0 with no endPort = every port). */
  port: number;
  /** Last port of a range, inclusive. */
  endPort?: number;
}

export interface CidrMatch {
  cidr: string;
  /** Prefixes inside `cidr` that this selector does not match (fromCIDRSet.except). */
  except?: string[];
}

export interface PolicyRule {
  /** Stable name: a rule keeps its counters across updates as long as its id stays. */
  id: string;
  verdict: Verdict;
  from: CidrMatch[];
  /** Empty: every protocol and port (an L3-only rule). */
  ports: PortMatch[];
}

export interface PolicyModel {
  /** Verdict for packets no rule matches (outside `defaultDenyPorts`). */
  defaultVerdict: Verdict;
  rules: PolicyRule[];
  /**
   * Destinations that are default-deny whatever `defaultVerdict` says: a packet to one of them that
   * no allow rule matches is dropped (and counted as a default drop). This scopes a policy's
   * default deny to the gateway's own listener ports, so the rest of the host's traffic on the
   * interface (SSH, the admin port, replies to the gateway's backend connections) is untouched.
   */
  defaultDenyPorts?: PortMatch[];
}

export type MapName = "src4" | "src6" | "ports";

export interface MapEntry {
  map: MapName;
  key: Buffer;
  value: Buffer;
  /** LPM prefix length: orders upserts (longest first) and deletes (shortest first). */
  prefixlen: number;
}

export interface CompiledPolicy {
  defaultVerdict: Verdict;
  enabled: boolean;
  /** "map:keyhex" -> entry. */
  entries: Map<string, MapEntry>;
  /** Rule id -> counter slot. */
  slots: Map<string, number>;
  /** Problems found in the model (invalid CIDRs, excepts outside their CIDR...): those parts are ignored. */
  problems: string[];
}

export const VERDICT_ALLOW = 1;
export const VERDICT_DENY = 2;
export const SLOT_DEFAULT_PASS = 0;
export const SLOT_DEFAULT_DROP = 1;
export const SLOT_NOT_IP = 2;
export const FIRST_RULE_SLOT = 3;
export const MAX_SLOTS = 4096;

/** Rule index standing for "the policy's default verdict" inside a class table. */
const DEFAULT_RULE = -1;
/** Rule index standing for "default deny of a defaultDenyPorts destination". */
const DEFAULT_DROP_RULE = -2;

const PROTO_NUM: Record<Exclude<Protocol, "ANY">, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const L4_PROTOS = [6, 17, 132] as const;

/** An empty policy: the program is loaded but passes everything. */
export function emptyCompiled(): CompiledPolicy {
  return { defaultVerdict: "allow", enabled: false, entries: new Map(), slots: new Map(), problems: [] };
}

interface Selector {
  rule: number;
  cidr: Prefix;
  except: Prefix[];
  /** prefixKey of each except and the lengths that occur, for ancestor lookups. */
  exceptKeys: Set<string>;
  exceptLens: number[];
}

function excepted(s: Selector, p: Prefix): boolean {
  for (const len of s.exceptLens) if (len <= p.len && s.exceptKeys.has(prefixKey(truncate(p, len)))) return true;
  return false;
}

interface Interval {
  lo: number;
  hi: number;
  rule: number;
}

interface PortEntry {
  /** undefined: class-level entry (any protocol, any port). */
  proto?: number;
  lo: number;
  hi: number;
  rule: number;
  verdict: Verdict;
}

export function compilePolicy(model: PolicyModel, previous?: CompiledPolicy): CompiledPolicy {
  const problems: string[] = [];
  const rules = model.rules;

  // --- counter slots: keep a rule's slot; never reuse a slot freed in this same update ---
  const slots = new Map<string, number>();
  const taken = new Set<number>(previous ? previous.slots.values() : []);
  let next = FIRST_RULE_SLOT;
  const seenIds = new Set<string>();
  for (const r of rules) {
    if (seenIds.has(r.id)) {
      problems.push(`rule id "${r.id}" appears twice; ids must be unique`);
      continue;
    }
    seenIds.add(r.id);
    const old = previous?.slots.get(r.id);
    if (old !== undefined) {
      slots.set(r.id, old);
      continue;
    }
    while (taken.has(next)) next++;
    if (next >= MAX_SLOTS) {
      problems.push(`more than ${MAX_SLOTS - FIRST_RULE_SLOT} rules: rule "${r.id}" has no counter slot`);
      continue;
    }
    slots.set(r.id, next);
    taken.add(next);
  }
  const defaultSlot = model.defaultVerdict === "deny" ? SLOT_DEFAULT_DROP : SLOT_DEFAULT_PASS;
  const slotOf = (rule: number): number =>
    rule === DEFAULT_RULE ? defaultSlot : rule === DEFAULT_DROP_RULE ? SLOT_DEFAULT_DROP : (slots.get(rules[rule].id) ?? SLOT_NOT_IP);
  const denyPorts = model.defaultDenyPorts ?? [];

  // --- source selectors ---
  const selectors: Selector[] = [];
  rules.forEach((r, i) => {
    for (const sel of r.from) {
      const cidr = parseCidr(sel.cidr);
      if (typeof cidr === "string") {
        problems.push(`rule "${r.id}": ${cidr}`);
        continue;
      }
      const except: Prefix[] = [];
      for (const e of sel.except ?? []) {
        const p = parseCidr(e);
        if (typeof p === "string") problems.push(`rule "${r.id}": except ${p}`);
        else if (!contains(cidr, p)) problems.push(`rule "${r.id}": except ${e} is not inside ${sel.cidr}; ignored`);
        else except.push(p);
      }
      selectors.push({ rule: i, cidr, except, exceptKeys: new Set(except.map(prefixKey)), exceptLens: [...new Set(except.map((e) => e.len))] });
    }
  });

  const prefixes = new Map<string, Prefix>();
  for (const s of selectors) {
    prefixes.set(prefixKey(s.cidr), s.cidr);
    for (const e of s.except) prefixes.set(prefixKey(e), e);
  }
  // Port-scoped default deny lives in the class tables, so every address needs a class.
  if (denyPorts.length > 0) {
    for (const all of ["0.0.0.0/0", "::/0"]) {
      const p = parseCidr(all) as Prefix;
      prefixes.set(prefixKey(p), p);
    }
  }

  // --- classes: rule set per prefix -> port table -> content-hashed id ---
  const entries = new Map<string, MapEntry>();
  const classOfSet = new Map<string, number>();
  const usedIds = new Map<number, string>(); // id -> table signature, to catch hash collisions
  const previousTables = previous ? classTables(previous) : new Map<number, string>();
  // Selectors indexed by their CIDR: a prefix's candidates are found by walking its ancestors
  // (at most 129 lookups) instead of scanning every selector, so large CIDR lists stay linear.
  const byCidr = new Map<string, Selector[]>();
  for (const s of selectors) {
    const k = prefixKey(s.cidr);
    const l = byCidr.get(k);
    if (l) l.push(s);
    else byCidr.set(k, [s]);
  }
  const cidrLens = [...new Set(selectors.map((s) => `${s.cidr.family}/${s.cidr.len}`))];
  for (const p of [...prefixes.values()].sort(comparePrefix)) {
    const set: number[] = [];
    for (const fl of cidrLens) {
      const [fam, lenText] = fl.split("/");
      const len = Number(lenText);
      if (Number(fam) !== p.family || len > p.len) continue;
      for (const s of byCidr.get(prefixKey(truncate(p, len))) ?? []) {
        if (!excepted(s, p) && !set.includes(s.rule)) set.push(s.rule);
      }
    }
    set.sort((a, b) => a - b);
    const setKey = set.join(",");
    let cls = classOfSet.get(setKey);
    if (cls === undefined) {
      const table = portTable(set, rules, model.defaultVerdict, denyPorts);
      const encoded = table.flatMap((e) => encodePortEntries(0, e, slotOf(e.rule)));
      const signature = encoded.map((x) => `${x.key.subarray(8).toString("hex")}=${x.value.toString("hex")}/${x.prefixlen}`).join(";");
      cls = classId(signature, (id) => {
        const other = usedIds.get(id) ?? previousTables.get(id);
        return other === undefined || other === signature;
      });
      usedIds.set(cls, signature);
      classOfSet.set(setKey, cls);
      for (const e of table) for (const x of encodePortEntries(cls, e, slotOf(e.rule))) entries.set(entryKey(x), x);
    }
    const src = encodeSource(p, cls);
    entries.set(entryKey(src), src);
  }

  return { defaultVerdict: model.defaultVerdict, enabled: true, entries, slots, problems };
}

function comparePrefix(a: Prefix, b: Prefix): number {
  return a.family - b.family || a.len - b.len || Buffer.compare(Buffer.from(a.addr), Buffer.from(b.addr));
}

/** Resolves the rules of one class into a disjoint table (deny beats allow, earlier rule gets the counter). */
function portTable(set: number[], rules: PolicyRule[], defaultVerdict: Verdict, denyPorts: PortMatch[]): PortEntry[] {
  const out: PortEntry[] = [];
  const l3 = set.filter((i) => rules[i].ports.length === 0);
  // Real rules first (deny beats allow, the earliest allow gets the counter); the port-scoped
  // default deny only answers where no rule of the class applies.
  const pick = (cands: number[]): { rule: number; verdict: Verdict } | undefined => {
    const real = cands.filter((i) => i >= 0);
    const deny = real.find((i) => rules[i].verdict === "deny");
    if (deny !== undefined) return { rule: deny, verdict: "deny" };
    if (real.length) return { rule: real[0], verdict: "allow" };
    return cands.includes(DEFAULT_DROP_RULE) ? { rule: DEFAULT_DROP_RULE, verdict: "deny" } : undefined;
  };
  const range = (pm: PortMatch): { lo: number; hi: number } => {
    const all = pm.port === 0 && pm.endPort === undefined;
    return all ? { lo: 0, hi: 65535 } : { lo: pm.port, hi: Math.max(pm.port, pm.endPort ?? pm.port) };
  };
  // Every class answers for every packet: where no rule of the class applies, the default verdict
  // is written into the class itself. The default thus only decides addresses outside every
  // prefix, which is what keeps a default flip window-free (see diffPolicy).
  const classLevel = pick(l3) ?? { rule: DEFAULT_RULE, verdict: defaultVerdict };
  out.push({ lo: 0, hi: 65535, ...classLevel });

  for (const proto of L4_PROTOS) {
    const intervals: Interval[] = [];
    for (const i of set) {
      for (const pm of rules[i].ports) {
        if (pm.protocol !== "ANY" && PROTO_NUM[pm.protocol] !== proto) continue;
        intervals.push({ ...range(pm), rule: i });
      }
    }
    for (const pm of denyPorts) {
      if (pm.protocol === "ANY" || PROTO_NUM[pm.protocol] === proto) intervals.push({ ...range(pm), rule: DEFAULT_DROP_RULE });
    }
    if (intervals.length === 0) continue; // the class-level entry (if any) answers for this protocol
    for (const i of l3) intervals.push({ lo: 0, hi: 65535, rule: i });
    const cuts = new Set<number>();
    for (const iv of intervals) {
      cuts.add(iv.lo);
      cuts.add(iv.hi + 1);
    }
    const points = [...cuts].sort((a, b) => a - b);
    let current: PortEntry | undefined;
    for (let k = 0; k + 1 < points.length; k++) {
      const lo = points[k];
      const hi = points[k + 1] - 1;
      const covering = [...new Set(intervals.filter((iv) => iv.lo <= lo && iv.hi >= hi).map((iv) => iv.rule))].sort((a, b) => a - b);
      const d = pick(covering);
      if (current && d && current.rule === d.rule && current.verdict === d.verdict && current.hi + 1 === lo) {
        current.hi = hi;
        continue;
      }
      if (current) out.push(current);
      current = d ? { proto, lo, hi, ...d } : undefined;
    }
    if (current) out.push(current);
  }
  return out;
}

/** Splits [lo, hi] into aligned power-of-two blocks: (start, number of fixed high bits). */
export function portBlocks(lo: number, hi: number): Array<{ port: number; bits: number }> {
  const out: Array<{ port: number; bits: number }> = [];
  let p = lo;
  while (p <= hi) {
    let size = 1;
    while (size < 65536 && p % (size * 2) === 0 && p + size * 2 - 1 <= hi) size *= 2;
    out.push({ port: p, bits: 16 - Math.log2(size) });
    p += size;
  }
  return out;
}

function encodePortEntries(cls: number, e: PortEntry, slot: number): MapEntry[] {
  const value = Buffer.alloc(8);
  value.writeUInt32LE(slot, 0);
  value.writeUInt32LE(e.verdict === "deny" ? VERDICT_DENY : VERDICT_ALLOW, 4);
  const mk = (prefixlen: number, proto: number, port: number): MapEntry => {
    const key = Buffer.alloc(12);
    key.writeUInt32LE(prefixlen, 0);
    key.writeUInt32LE(cls, 4);
    key.writeUInt8(proto, 8);
    key.writeUInt16BE(port, 9);
    return { map: "ports", key, value, prefixlen };
  };
  if (e.proto === undefined) return [mk(32, 0, 0)];
  const proto = e.proto;
  return portBlocks(e.lo, e.hi).map((b) => mk(40 + b.bits, proto, b.port));
}

function encodeSource(p: Prefix, cls: number): MapEntry {
  const key = Buffer.alloc(4 + p.addr.length);
  key.writeUInt32LE(p.len, 0);
  key.set(p.addr, 4);
  const value = Buffer.alloc(4);
  value.writeUInt32LE(cls, 0);
  return { map: p.family === 4 ? "src4" : "src6", key, value, prefixlen: p.len };
}

function entryKey(e: MapEntry): string {
  return `${e.map}:${e.key.toString("hex")}`;
}

/** Class id: a 32-bit hash of the table's content, salted until it does not collide with another table. */
function classId(signature: string, free: (id: number) => boolean): number {
  for (let salt = 0; ; salt++) {
    const id = createHash("sha256").update(`${salt}|${signature}`).digest().readUInt32LE(0);
    if (free(id)) return id;
  }
}

/** Rebuilds id -> signature from a compiled set's port entries (for collision checks against it). */
function classTables(c: CompiledPolicy): Map<number, string> {
  const parts = new Map<number, string[]>();
  const referenced = new Set<number>();
  for (const e of c.entries.values()) {
    if (e.map === "ports") {
      const id = e.key.readUInt32LE(4);
      const list = parts.get(id) ?? [];
      list.push(`${e.key.subarray(8).toString("hex")}=${e.value.toString("hex")}/${e.prefixlen}`);
      parts.set(id, list);
    } else referenced.add(e.value.readUInt32LE(0));
  }
  const out = new Map<number, string>();
  for (const id of referenced) out.set(id, (parts.get(id) ?? []).join(";"));
  return out;
}

export type MapOp =
  | { op: "zero-counter"; slot: number }
  | { op: "update"; map: MapName; key: Buffer; value: Buffer }
  | { op: "delete"; map: MapName; key: Buffer }
  | { op: "config"; defaultVerdict: Verdict; enabled: boolean };

/**
 * Ordered operations turning `from` into `to`:
 * 1. zero the counters of newly assigned slots;
 * 2. add port tables of new classes (nothing points at them yet);
 * 3. upsert source prefixes, longest first: each address jumps straight from its old class to its new one;
 * 4. set the default verdict (after the new rules exist, before the old ones go);
 * 5. delete old source prefixes, shortest first: the addresses they covered fall through to new entries only;
 * 6. delete port tables no prefix points at any more.
 */
export function diffPolicy(from: CompiledPolicy, to: CompiledPolicy): MapOp[] {
  const ops: MapOp[] = [];
  const oldSlots = new Set(from.slots.values());
  for (const s of [...new Set(to.slots.values())].sort((a, b) => a - b)) if (!oldSlots.has(s)) ops.push({ op: "zero-counter", slot: s });

  const upserts: MapEntry[] = [];
  for (const [k, e] of to.entries) {
    const old = from.entries.get(k);
    if (!old || !old.value.equals(e.value)) upserts.push(e);
  }
  const deletes = [...from.entries].filter(([k]) => !to.entries.has(k)).map(([, e]) => e);
  const byKey = (a: MapEntry, b: MapEntry) => Buffer.compare(a.key, b.key);

  for (const e of upserts.filter((x) => x.map === "ports").sort(byKey)) ops.push({ op: "update", map: e.map, key: e.key, value: e.value });
  for (const e of upserts.filter((x) => x.map !== "ports").sort((a, b) => b.prefixlen - a.prefixlen || byKey(a, b))) {
    ops.push({ op: "update", map: e.map, key: e.key, value: e.value });
  }
  if (from.defaultVerdict !== to.defaultVerdict || from.enabled !== to.enabled) {
    ops.push({ op: "config", defaultVerdict: to.defaultVerdict, enabled: to.enabled });
  }
  for (const e of deletes.filter((x) => x.map !== "ports").sort((a, b) => a.prefixlen - b.prefixlen || byKey(a, b))) {
    ops.push({ op: "delete", map: e.map, key: e.key });
  }
  for (const e of deletes.filter((x) => x.map === "ports").sort(byKey)) ops.push({ op: "delete", map: e.map, key: e.key });
  return ops;
}

/**
 * Evaluates a compiled policy the way the kernel program does (LPM on source, LPM on class/proto/port).
 * Used by tests to check compile + diff against the model, and usable as the userspace fallback.
 */
export function evaluate(c: CompiledPolicy, srcIp: string, proto: number, dport: number): { verdict: Verdict; slot: number } {
  if (!c.enabled) return { verdict: "allow", slot: SLOT_NOT_IP };
  const src = parseCidr(srcIp);
  if (typeof src === "string") throw new Error(src);
  const map = src.family === 4 ? "src4" : "src6";
  let best: MapEntry | undefined;
  for (const e of c.entries.values()) {
    if (e.map !== map) continue;
    const p: Prefix = { family: src.family, addr: e.key.subarray(4), len: e.prefixlen };
    if (contains(p, src) && (!best || e.prefixlen > best.prefixlen)) best = e;
  }
  if (best) {
    const cls = best.value.readUInt32LE(0);
    let hit: MapEntry | undefined;
    for (const e of c.entries.values()) {
      if (e.map !== "ports" || e.key.readUInt32LE(4) !== cls) continue;
      if (e.prefixlen > 32 && e.key.readUInt8(8) !== proto) continue;
      if (e.prefixlen > 40) {
        const bits = e.prefixlen - 40;
        const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
        if ((dport & mask) !== e.key.readUInt16BE(9)) continue;
      }
      if (!hit || e.prefixlen > hit.prefixlen) hit = e;
    }
    if (hit) return { verdict: hit.value.readUInt32LE(4) === VERDICT_DENY ? "deny" : "allow", slot: hit.value.readUInt32LE(0) };
  }
  return c.defaultVerdict === "deny" ? { verdict: "deny", slot: SLOT_DEFAULT_DROP } : { verdict: "allow", slot: SLOT_DEFAULT_PASS };
}

/** Applies ops to a copy of a compiled set's entries (tests use it to check every intermediate state). */
export function applyOps(state: CompiledPolicy, ops: MapOp[], stepCallback?: (s: CompiledPolicy) => void): CompiledPolicy {
  const cur: CompiledPolicy = { ...state, entries: new Map(state.entries) };
  for (const op of ops) {
    if (op.op === "update") {
      const prefixlen = op.key.readUInt32LE(0);
      cur.entries.set(`${op.map}:${op.key.toString("hex")}`, { map: op.map, key: op.key, value: op.value, prefixlen });
    } else if (op.op === "delete") cur.entries.delete(`${op.map}:${op.key.toString("hex")}`);
    else if (op.op === "config") {
      cur.defaultVerdict = op.defaultVerdict;
      cur.enabled = op.enabled;
    } else continue;
    stepCallback?.(cur);
  }
  return cur;
}
