// Loads bpf/lb.bpf.o, attaches its sock_addr programs to a cgroup v2 (processes in it get socket-level
// L4 load balancing), and keeps its maps in step with an LbModel: diff-based, one new Maglev table
// per changed service, swapped into the service's slot in one map update.
//
// Update order (no window where a VIP points at nothing): backends first, then tables, then VIP
// entries added; VIP entries of removed services deleted, their slots emptied, and only then
// backends nobody references any more. A removed backend is out of every table after its service's
// swap, so it gets no new connections from that moment.
import { closeSync, constants as fsConstants, existsSync, openSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import type { IrConfig } from "../ir/types.js";
import type { Logger } from "../observe/log.js";
import { childLog } from "../observe/log.js";
import { detectBpfSupport, mountsOfType } from "./capabilities.js";
import { parseCidr } from "./cidr.js";
import { addrKey, lbModel, type LbAddr, type LbModel, type LbProto, type LbService, type LbSkip } from "./l4-lb-model.js";
import {
  BPF_CGROUP_INET4_CONNECT,
  BPF_CGROUP_INET4_GETPEERNAME,
  BPF_CGROUP_INET6_CONNECT,
  BPF_CGROUP_INET6_GETPEERNAME,
  BPF_CGROUP_UDP4_RECVMSG,
  BPF_CGROUP_UDP4_SENDMSG,
  BPF_CGROUP_UDP6_RECVMSG,
  BPF_CGROUP_UDP6_SENDMSG,
  BPF_F_INNER_MAP,
  BPF_MAP_TYPE_ARRAY,
  libbpf,
  type Libbpf,
  type Ptr,
} from "./libbpf.js";
import { buildMaglevTable, DEFAULT_TABLE_SIZE, isPrime } from "./maglev.js";
import { bpfObjectPath } from "./policy-loader.js";
import { makeDirs } from "../util/make-dirs.js";

/** Must match bpf/lb.bpf.c. */
const MAX_SERVICES = 4096;
const MAX_BACKENDS = 65536;
const VIP_KEY = 20;
const BACKEND_VAL = 20;
const STATS_VAL = 32;
const PROTO: Record<LbProto, number> = { TCP: 6, UDP: 17 };

const PROGRAMS: Array<[string, number]> = [
  ["sluice_lb_connect4", BPF_CGROUP_INET4_CONNECT],
  ["sluice_lb_connect6", BPF_CGROUP_INET6_CONNECT],
  ["sluice_lb_sendmsg4", BPF_CGROUP_UDP4_SENDMSG],
  ["sluice_lb_sendmsg6", BPF_CGROUP_UDP6_SENDMSG],
  ["sluice_lb_recvmsg4", BPF_CGROUP_UDP4_RECVMSG],
  ["sluice_lb_recvmsg6", BPF_CGROUP_UDP6_RECVMSG],
  ["sluice_lb_getpeername4", BPF_CGROUP_INET4_GETPEERNAME],
  ["sluice_lb_getpeername6", BPF_CGROUP_INET6_GETPEERNAME],
];

function addrBytes(a: LbAddr): Uint8Array {
  const p = parseCidr(a.address);
  if (typeof p === "string") throw new Error(p);
  return p.addr;
}

export function vipKey(v: LbAddr, proto: LbProto): Buffer {
  const k = Buffer.alloc(VIP_KEY);
  k.set(addrBytes(v), 0);
  k.writeUInt16BE(v.port, 16); // network order, as the hook reads user_port
  k[18] = PROTO[proto];
  k[19] = v.family;
  return k;
}

function backendValue(b: LbAddr): Buffer {
  const v = Buffer.alloc(BACKEND_VAL);
  v.set(addrBytes(b), 0);
  v.writeUInt16BE(b.port, 16);
  v[18] = b.family;
  return v;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export interface LbServiceStats {
  connect: number;
  sendmsg: number;
  refused: number;
  missing: number;
}

/** Reads the load balancer's maps by fd: used in process and, by map id, from another process. */
export class LbMaps {
  constructor(
    private readonly b: Libbpf,
    readonly fds: { vips: number; backends: number; stats: number; hits: number },
    private readonly cpus = b.possibleCpus(),
    private readonly owned = false,
  ) {}

  /**
   * Opens the maps a running gateway (process `pid`) holds, found through /proc/<pid>/fdinfo.
   * Close it when done.
   */
  static ofProcess(pid: number): LbMaps {
    const b = libbpf();
    const found: Record<string, number> = {};
    for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
      let info: string;
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
      } catch {
        continue;
      }
      const m = /^map_id:\s*(\d+)$/m.exec(info);
      if (!m) continue;
      const mfd = b.mapFdById(Number(m[1]));
      const name = b.mapName(mfd);
      if (["lb_vips", "lb_backends", "lb_stats", "lb_hits"].includes(name) && found[name] === undefined) found[name] = mfd;
      else b.closeFd(mfd);
    }
    const need = ["lb_vips", "lb_backends", "lb_stats", "lb_hits"].filter((n) => found[n] === undefined);
    if (need.length) {
      for (const fd of Object.values(found)) b.closeFd(fd);
      throw new Error(`process ${pid} holds no L4 load balancer maps (missing ${need.join(", ")})`);
    }
    return new LbMaps(b, { vips: found.lb_vips!, backends: found.lb_backends!, stats: found.lb_stats!, hits: found.lb_hits! }, b.possibleCpus(), true);
  }

  /** The service slot a VIP points at, or undefined. */
  slotOf(vip: LbAddr, proto: LbProto): number | undefined {
    const v = Buffer.alloc(8);
    return this.b.mapLookup(this.fds.vips, vipKey(vip, proto), v) ? v.readUInt32LE(0) : undefined;
  }

  stats(slot: number): LbServiceStats {
    const v = Buffer.alloc(STATS_VAL * this.cpus);
    const out: LbServiceStats = { connect: 0, sendmsg: 0, refused: 0, missing: 0 };
    if (!this.b.mapLookup(this.fds.stats, u32(slot), v)) return out;
    for (let c = 0; c < this.cpus; c++) {
      out.connect += Number(v.readBigUInt64LE(c * STATS_VAL));
      out.sendmsg += Number(v.readBigUInt64LE(c * STATS_VAL + 8));
      out.refused += Number(v.readBigUInt64LE(c * STATS_VAL + 16));
      out.missing += Number(v.readBigUInt64LE(c * STATS_VAL + 24));
    }
    return out;
  }

  /** Connections/datagrams the kernel sent to backend `id`. */
  hits(id: number): number {
    const v = Buffer.alloc(8 * this.cpus);
    if (!this.b.mapLookup(this.fds.hits, u32(id), v)) return 0;
    let n = 0;
    for (let c = 0; c < this.cpus; c++) n += Number(v.readBigUInt64LE(c * 8));
    return n;
  }

  /** The backend under an id ("addr:port"), or undefined when the id is free. */
  backend(id: number): string | undefined {
    const v = Buffer.alloc(BACKEND_VAL);
    if (!this.b.mapLookup(this.fds.backends, u32(id), v) || (v[18] !== 4 && v[18] !== 6)) return undefined;
    const port = v.readUInt16BE(16);
    if (v[18] === 4) return `${v[0]}.${v[1]}.${v[2]}.${v[3]}:${port}`;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(v.readUInt16BE(i).toString(16));
    return `[${groups.join(":")}]:${port}`;
  }

  /** Hits per live backend ("addr:port" -> count), scanning ids 1..maxId (ids are handed out lowest first). */
  backendHits(maxId = 1024): Map<string, number> {
    const out = new Map<string, number>();
    for (let id = 1; id <= Math.min(maxId, MAX_BACKENDS - 1); id++) {
      const name = this.backend(id);
      if (name) out.set(name, (out.get(name) ?? 0) + this.hits(id));
    }
    return out;
  }

  close(): void {
    if (!this.owned) return;
    for (const fd of Object.values(this.fds)) this.b.closeFd(fd);
  }
}

export interface L4LbOptions {
  /** cgroup v2 directory: absolute, or relative to the cgroup2 mount. Created when missing. */
  cgroup: string;
  /** Maglev table size per service: a prime (default 16381). */
  tableSize?: number;
  objectPath?: string;
}

export interface LbSyncResult {
  added: string[];
  changed: string[];
  removed: string[];
  /** Tables built and swapped in. */
  tables: number;
}

interface ServiceState {
  slot: number;
  proto: LbProto;
  signature: string;
  backendKeys: string[];
  vips: Map<string, Buffer>;
}

/** The cgroup2 directory for a user-given path (absolute, or relative to the first cgroup2 mount). */
export function resolveCgroupPath(path: string): string {
  const mounts = mountsOfType("cgroup2");
  if (mounts.length === 0) throw new Error("no cgroup2 file system is mounted (mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`)");
  const full = isAbsolute(path) ? resolve(path) : resolve(mounts[0]!, path);
  const under = mounts.find((m) => full === m || !relative(m, full).startsWith(".."));
  if (!under) throw new Error(`${full} is not inside a cgroup2 mount (${mounts.join(", ")})`);
  return full;
}

export class L4LoadBalancer {
  private readonly log = childLog("ebpf-l4lb");
  private readonly maps: LbMaps;
  private readonly tablesFd: number;
  private readonly links: number[] = [];
  private readonly services = new Map<string, ServiceState>();
  private readonly backends = new Map<string, { id: number; refs: number; addr: LbAddr }>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly freeIds: number[] = [];
  private nextId = 1; // 0 is the "refuse" entry
  private lastModel: LbModel = { services: [], skipped: [] };
  private closed = false;

  private constructor(
    private readonly b: Libbpf,
    private readonly obj: Ptr,
    readonly cgroupPath: string,
    private readonly createdCgroup: boolean,
    readonly tableSize: number,
  ) {
    const fd = (name: string) => b.mapFd(b.findMap(obj, name));
    this.maps = new LbMaps(b, { vips: fd("lb_vips"), backends: fd("lb_backends"), stats: fd("lb_stats"), hits: fd("lb_hits") });
    this.tablesFd = fd("lb_tables");
  }

  /** Opens and loads the object (verifier included) without attaching anything; throws on failure. */
  static probe(objectPath = bpfObjectPath("lb")): void {
    const b = libbpf();
    const obj = b.objectOpenFile(objectPath);
    try {
      b.objectLoad(obj);
    } finally {
      b.objectClose(obj);
    }
  }

  /** Loads the programs and attaches them to the cgroup. Throws with libbpf's explanation. */
  static open(opts: L4LbOptions): L4LoadBalancer {
    const tableSize = opts.tableSize ?? DEFAULT_TABLE_SIZE;
    if (!isPrime(tableSize)) throw new Error(`the Maglev table size must be prime, got ${tableSize}`);
    const path = resolveCgroupPath(opts.cgroup);
    let created = false;
    if (!existsSync(path)) {
      makeDirs(path);
      created = true;
    } else if (!statSync(path).isDirectory()) throw new Error(`${path} is not a cgroup directory`);
    const b = libbpf();
    const obj = b.objectOpenFile(opts.objectPath ?? bpfObjectPath("lb"));
    let lb: L4LoadBalancer | undefined;
    try {
      b.objectLoad(obj);
      lb = new L4LoadBalancer(b, obj, path, created, tableSize);
      const cg = openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      try {
        for (const [name, type] of PROGRAMS) lb.links.push(b.linkCreate(b.programFd(b.findProgram(obj, name)), cg, type));
      } finally {
        closeSync(cg);
      }
      return lb;
    } catch (e) {
      if (lb) lb.close();
      else b.objectClose(obj);
      throw e;
    }
  }

  /** Applies a model: only services whose VIPs or backends changed touch the maps. */
  sync(model: LbModel): LbSyncResult {
    this.assertOpen();
    const result: LbSyncResult = { added: [], changed: [], removed: [], tables: 0 };
    const released: string[] = [];
    const wanted = new Set(model.services.map((s) => s.name));
    for (const svc of model.services) {
      const st = this.services.get(svc.name);
      try {
        const r = this.syncService(svc, st, released);
        if (r.table) result.tables++;
        if (!st) result.added.push(svc.name);
        else if (r.table || r.vips) result.changed.push(svc.name);
      } catch (e) {
        // The service keeps what it had (or stays out of the kernel): its VIP still reaches the proxy.
        this.log.error({ service: svc.name, err: (e as Error).message }, "could not program a service into the kernel load balancer");
      }
    }
    for (const [name, st] of [...this.services]) {
      if (wanted.has(name)) continue;
      for (const k of st.vips.values()) this.b.mapDelete(this.maps.fds.vips, k);
      this.b.mapDelete(this.tablesFd, u32(st.slot));
      released.push(...st.backendKeys);
      this.freeSlots.push(st.slot);
      this.services.delete(name);
      result.removed.push(name);
    }
    for (const k of released) this.release(k);
    this.lastModel = model;
    return result;
  }

  /** The model last applied (services and what was left to userspace). */
  model(): LbModel {
    return this.lastModel;
  }

  skipped(): LbSkip[] {
    return this.lastModel.skipped;
  }

  /** Per service: its slot's counters and, per backend, what the kernel sent there. */
  counters(): Record<string, LbServiceStats & { backends: Record<string, number> }> {
    this.assertOpen();
    const out: Record<string, LbServiceStats & { backends: Record<string, number> }> = {};
    for (const [name, st] of this.services) {
      const backends: Record<string, number> = {};
      for (const k of st.backendKeys) {
        const be = this.backends.get(k);
        if (be) backends[k] = this.maps.hits(be.id);
      }
      out[name] = { ...this.maps.stats(st.slot), backends };
    }
    return out;
  }

  /** Map fds, for readers in this process. */
  lbMaps(): LbMaps {
    return this.maps;
  }

  /** Detaches from the cgroup and unloads. Removes the cgroup when this process created it and it is empty. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.links.splice(0)) this.b.closeFd(fd);
    this.b.objectClose(this.obj);
    if (this.createdCgroup) {
      try {
        rmdirSync(this.cgroupPath);
      } catch {
        // Processes still in it: it is theirs to remove.
      }
    }
  }

  private syncService(svc: LbService, st: ServiceState | undefined, released: string[]): { table: boolean; vips: boolean } {
    const signature = JSON.stringify([svc.proto, svc.backends.map((b) => [addrKey(b), b.weight]), svc.refuseWeight]);
    let state = st;
    let table = false;
    if (!state || state.signature !== signature) {
      const keys = svc.backends.map((b) => addrKey(b));
      const ids = svc.backends.map((b) => this.acquire(b));
      let slot: number | undefined;
      try {
        slot = state?.slot ?? this.allocSlot();
        this.swapTable(slot, svc, ids);
      } catch (e) {
        for (const k of keys) this.release(k);
        if (!state && slot !== undefined) this.freeSlots.push(slot);
        throw e;
      }
      if (state) released.push(...state.backendKeys);
      state = { slot, proto: svc.proto, signature, backendKeys: keys, vips: state?.vips ?? new Map() };
      this.services.set(svc.name, state);
      table = true;
    }
    // VIPs: add (or repoint) first, then drop the ones no longer wanted.
    let vipsChanged = false;
    const val = Buffer.alloc(8);
    val.writeUInt32LE(state.slot, 0);
    val.writeUInt32LE(this.tableSize, 4);
    const next = new Map<string, Buffer>();
    for (const v of svc.vips) {
      const key = vipKey(v, svc.proto);
      const hex = key.toString("hex");
      next.set(hex, key);
      if (!state.vips.has(hex)) {
        this.b.mapUpdate(this.maps.fds.vips, key, val);
        vipsChanged = true;
      }
    }
    for (const [hex, key] of state.vips) {
      if (next.has(hex)) continue;
      this.b.mapDelete(this.maps.fds.vips, key);
      vipsChanged = true;
    }
    state.vips = next;
    return { table, vips: vipsChanged };
  }

  /** Builds the service's Maglev table in a new inner map and swaps it into the slot in one update. */
  private swapTable(slot: number, svc: LbService, ids: number[]): void {
    const entries = svc.backends.map((b) => ({ key: addrKey(b), weight: b.weight }));
    // The refused share is one more "backend" so it takes its weighted part of the table.
    if (svc.refuseWeight > 0) entries.push({ key: "\0refuse", weight: svc.refuseWeight });
    const table = buildMaglevTable(entries, this.tableSize);
    const m = this.tableSize;
    const keys = Buffer.alloc(4 * m);
    const values = Buffer.alloc(4 * m);
    for (let i = 0; i < m; i++) {
      keys.writeUInt32LE(i, i * 4);
      const idx = table[i]!;
      values.writeUInt32LE(idx >= 0 && idx < ids.length ? ids[idx]! : 0, i * 4);
    }
    const inner = this.b.mapCreate(BPF_MAP_TYPE_ARRAY, "lb_table", 4, 4, m, BPF_F_INNER_MAP);
    try {
      this.b.mapUpdateBatch(inner, keys, values, m);
      this.b.mapUpdate(this.tablesFd, u32(slot), u32(inner));
    } finally {
      // The outer map holds its own reference; the old table goes when the last reader is done.
      this.b.closeFd(inner);
    }
  }

  private acquire(addr: LbAddr): number {
    const k = addrKey(addr);
    const have = this.backends.get(k);
    if (have) {
      have.refs++;
      return have.id;
    }
    const id = this.freeIds.length ? this.freeIds.pop()! : this.nextId++;
    if (id >= MAX_BACKENDS) throw new Error(`more than ${MAX_BACKENDS - 1} backends`);
    this.b.mapUpdate(this.maps.fds.hits, u32(id), Buffer.alloc(8 * this.b.possibleCpus()));
    this.b.mapUpdate(this.maps.fds.backends, u32(id), backendValue(addr));
    this.backends.set(k, { id, refs: 1, addr });
    return id;
  }

  private release(k: string): void {
    const be = this.backends.get(k);
    if (!be) return;
    if (--be.refs > 0) return;
    this.b.mapUpdate(this.maps.fds.backends, u32(be.id), Buffer.alloc(BACKEND_VAL));
    this.backends.delete(k);
    this.freeIds.push(be.id);
  }

  private allocSlot(): number {
    const slot = this.freeSlots.length ? this.freeSlots.pop()! : this.nextSlot++;
    if (slot >= MAX_SERVICES) throw new Error(`more than ${MAX_SERVICES} services`);
    this.b.mapUpdate(this.maps.fds.stats, u32(slot), Buffer.alloc(STATS_VAL * this.b.possibleCpus()));
    return slot;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the L4 load balancer was closed");
  }
}

export interface L4LbPlane {
  readonly lb: L4LoadBalancer;
  /** Applies a snapshot's L4 listeners and service VIPs. Never throws. */
  apply(config: IrConfig): void;
  close(): void;
}

/**
 * The gateway's L4 LB data plane: null (said once in the log) when eBPF is not usable here or the
 * programs cannot attach; the userspace proxy serves every VIP then.
 */
export function startL4LbPlane(opts: { cgroup: string; addresses: string[]; tableSize?: number; log: Logger }): L4LbPlane | null {
  const support = detectBpfSupport();
  if (!support.ok) {
    opts.log.warn({ reason: support.reason }, "kernel L4 load balancing is off");
    return null;
  }
  let lb: L4LoadBalancer;
  try {
    lb = L4LoadBalancer.open({ cgroup: opts.cgroup, ...(opts.tableSize ? { tableSize: opts.tableSize } : {}) });
  } catch (e) {
    opts.log.error({ err: (e as Error).message, cgroup: opts.cgroup }, "kernel L4 load balancing is off: the programs could not be attached");
    return null;
  }
  opts.log.info({ cgroup: lb.cgroupPath, tableSize: lb.tableSize }, "kernel L4 load balancing attached (socket-level, cgroup connect/sendmsg)");
  if (mountsOfType("cgroup2").includes(lb.cgroupPath)) {
    opts.log.warn({ cgroup: lb.cgroupPath }, "kernel L4 load balancing is attached to a root cgroup: every process under it is balanced");
  }
  let lastSkipped = "";
  return {
    lb,
    apply(config) {
      try {
        const model = lbModel(config, opts.addresses);
        const r = lb.sync(model);
        if (r.added.length || r.changed.length || r.removed.length) {
          opts.log.info({ added: r.added, changed: r.changed, removed: r.removed, tables: r.tables }, "kernel L4 load balancer updated");
        }
        const skipped = JSON.stringify(model.skipped);
        if (skipped !== lastSkipped && model.skipped.length) opts.log.info({ skipped: model.skipped }, "left to the userspace proxy");
        lastSkipped = skipped;
      } catch (e) {
        opts.log.error({ err: (e as Error).message }, "kernel L4 load balancer update failed; the previous state stays");
      }
    },
    close() {
      lb.close();
    },
  };
}

