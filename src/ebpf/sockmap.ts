// Socket acceleration between local sockets (bpf/sockops.bpf.c): sock_ops on the gateway's own
// cgroup stores established TCP connections with both ends in that cgroup in a sockhash (a client
// outside it is never stored; a connection to a same-host backend outside it leaves again after its
// first acknowledged send); sk_msg on that sockhash hands each send straight to the peer socket's
// receive queue. Lives in the control process; the workers and
// the demo backends are inside the cgroup because they are started after the control moved in.
import { closeSync, openSync, readdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../observe/log.js";
import { detectBpfSupport, mountsOfType } from "./capabilities.js";
import { enterCgroup, prepareCgroup, procsOf, releaseCgroup, type OwnCgroup } from "./cgroup.js";
import { BPF_CGROUP_SOCK_OPS, BPF_SK_MSG_VERDICT, libbpf, type Libbpf, type Ptr } from "./libbpf.js";
import { bpfObjectPath } from "./policy-loader.js";

/** Slots of sockmap_stats (bpf/sockops.bpf.c). */
const STAT = { redirectedMsgs: 0, redirectedBytes: 1, passedMsgs: 2, passedBytes: 3, socketsAdded: 4, socketsSkipped: 5, socketsDropped: 6 } as const;
const STAT_COUNT = 8;
export const SOCKMAP_STATS_MAP = "sockmap_stats";

export type SockmapCounters = Record<keyof typeof STAT, number>;

export function countersFromSlots(slots: bigint[]): SockmapCounters {
  const out = {} as SockmapCounters;
  for (const [k, slot] of Object.entries(STAT) as Array<[keyof typeof STAT, number]>) out[k] = Number(slots[slot] ?? 0n);
  return out;
}

export interface SockmapOptions {
  /** cgroup v2 directory to create and attach to (default: <cgroup2 mount>/sluice-<pid>). */
  cgroup?: string;
}

export class SocketAcceleration {
  private readonly statsFd: number;
  private readonly cpus: number;
  private linkFd: number | null = null;
  private closed = false;

  private constructor(
    private readonly b: Libbpf,
    private readonly obj: Ptr,
    readonly cg: OwnCgroup,
  ) {
    this.statsFd = b.mapFd(b.findMap(obj, SOCKMAP_STATS_MAP));
    this.cpus = b.possibleCpus();
  }

  /** Loads the programs, attaches them to the gateway's cgroup and moves this process into it. */
  static start(opts: SockmapOptions = {}): SocketAcceleration {
    const b = libbpf();
    const obj = b.objectOpenFile(bpfObjectPath("sockops"));
    let acc: SocketAcceleration | undefined;
    try {
      b.objectLoad(obj);
      acc = new SocketAcceleration(b, obj, prepareCgroup(opts.cgroup));
      acc.attach();
      enterCgroup(acc.cg.path);
      return acc;
    } catch (e) {
      if (acc) acc.close();
      else b.objectClose(obj);
      throw e;
    }
  }

  get cgroup(): string {
    return this.cg.path;
  }

  private attach(): void {
    const b = this.b;
    const socks = b.mapFd(b.findMap(this.obj, "sockmap_socks"));
    b.progAttach(b.programFd(b.findProgram(this.obj, "sluice_sk_msg")), socks, BPF_SK_MSG_VERDICT);
    this.fillLocalAddresses();
    const cgFd = openSync(this.cg.path, "r");
    try {
      // A link: the kernel detaches sock_ops by itself if this process dies.
      this.linkFd = b.linkCreate(b.programFd(b.findProgram(this.obj, "sluice_sockops")), cgFd, BPF_CGROUP_SOCK_OPS);
    } finally {
      closeSync(cgFd);
    }
  }

  /** Addresses of this host other than loopback also count as "same host". */
  private fillLocalAddresses(): void {
    const fd = this.b.mapFd(this.b.findMap(this.obj, "sockmap_local"));
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.internal) continue;
        const key = Buffer.alloc(20);
        if (a.family === "IPv4") {
          key.writeUInt32LE(4, 0);
          Buffer.from(a.address.split(".").map(Number)).copy(key, 4);
        } else {
          if (a.address.startsWith("fe80")) continue; // link-local needs a scope: never a backend address here
          key.writeUInt32LE(6, 0);
          ipv6Bytes(a.address).copy(key, 4);
        }
        this.b.mapUpdate(fd, key, Buffer.from([1]));
      }
    }
  }

  counters(): SockmapCounters {
    return countersFromSlots(readPerCpuSlots(this.b, this.statsFd, STAT_COUNT, this.cpus));
  }

  /** Detaches, unloads, moves this process back and removes the cgroup. Idempotent. */
  close(): string | null {
    if (this.closed) return null;
    this.closed = true;
    if (this.linkFd !== null) this.b.closeFd(this.linkFd);
    this.b.objectClose(this.obj);
    // The sk_msg attachment goes away with the sockhash, which goes with the object.
    return releaseCgroup(this.cg);
  }
}

/** Sums each slot of a per-CPU array of u64 over every possible CPU. */
export function readPerCpuSlots(b: Libbpf, fd: number, slots: number, cpus: number): bigint[] {
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8 * cpus);
  const out: bigint[] = [];
  for (let s = 0; s < slots; s++) {
    key.writeUInt32LE(s);
    let sum = 0n;
    if (b.mapLookup(fd, key, value)) for (let c = 0; c < cpus; c++) sum += value.readBigUInt64LE(c * 8);
    out.push(sum);
  }
  return out;
}

export interface LiveMap {
  id: number;
  slots: bigint[];
}

/**
 * Every per-CPU counter map on this host with that name (each running gateway or worker has its
 * own), read by id: how `sluice doctor` sees the counters of gateways it is not part of.
 */
export function readLiveCounterMaps(name: string, slots: number): LiveMap[] {
  const b = libbpf();
  const cpus = b.possibleCpus();
  const out: LiveMap[] = [];
  for (const id of b.mapIds()) {
    let fd: number;
    try {
      fd = b.mapFdById(id);
    } catch {
      continue; // gone since it was listed
    }
    try {
      const info = b.mapInfo(fd);
      if (info.name !== name || info.keySize !== 4 || info.valueSize !== 8) continue;
      out.push({ id, slots: readPerCpuSlots(b, fd, Math.min(slots, info.maxEntries), cpus) });
    } finally {
      b.closeFd(fd);
    }
  }
  return out;
}

function ipv6Bytes(addr: string): Buffer {
  const [head = "", tail = ""] = addr.split("%")[0]!.split("::");
  const parts = (s: string) => (s ? s.split(":") : []);
  const h = parts(head), t = parts(tail);
  const groups = addr.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

/**
 * Starts acceleration when asked for and possible; otherwise says why once and returns null (the
 * gateway then runs without it). Never throws.
 */
export function startSocketAcceleration(opts: SockmapOptions & { enabled: boolean; log: Logger }): SocketAcceleration | null {
  if (!opts.enabled) {
    opts.log.info("socket acceleration (sockmap) is off (--no-sockmap)");
    return null;
  }
  const support = detectBpfSupport();
  if (!support.ok) {
    opts.log.warn({ reason: support.reason }, `socket acceleration (sockmap) is off: ${support.reason}`);
    return null;
  }
  try {
    const acc = SocketAcceleration.start(opts);
    opts.log.info({ cgroup: acc.cgroup }, "socket acceleration (sockmap) on: sock_ops + sk_msg attached to the gateway's cgroup");
    return acc;
  } catch (e) {
    opts.log.warn({ err: (e as Error).message }, `socket acceleration (sockmap) is off: ${(e as Error).message}`);
    return null;
  }
}

/** Exposes the map counters on a registry (read at scrape time). */
export function registerSockmapMetrics(registry: Registry, acc: SocketAcceleration | null): void {
  const read = (): SockmapCounters | null => {
    try {
      return acc ? acc.counters() : null;
    } catch {
      return null;
    }
  };
  new Gauge({
    name: "sluice_sockmap_enabled",
    help: "1 when socket acceleration (sock_ops + sk_msg on the gateway's cgroup) is attached.",
    registers: [registry],
    collect() {
      this.set(acc ? 1 : 0);
    },
  });
  const fromMap = (name: string, help: string, pick: (c: SockmapCounters) => Array<[Record<string, string>, number]>, labelNames: string[] = []): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const c = read();
        if (c) for (const [labels, v] of pick(c)) this.inc(labels, v);
      },
    });
  };
  fromMap("sluice_sockmap_redirected_messages_total", "Messages sk_msg handed straight to a local peer socket.", (c) => [[{}, c.redirectedMsgs]]);
  fromMap("sluice_sockmap_redirected_bytes_total", "Bytes sk_msg handed straight to a local peer socket.", (c) => [[{}, c.redirectedBytes]]);
  fromMap("sluice_sockmap_passed_messages_total", "Messages on accelerated sockets whose peer is not in the map (sent the normal way).", (c) => [[{}, c.passedMsgs]]);
  fromMap(
    "sluice_sockmap_sockets_total",
    "Established TCP sockets seen by sock_ops in the gateway's cgroup: added to the map, skipped (peer not on this host, or an accepted connection whose client is outside the cgroup), or dropped again (a connection whose data TCP acknowledged: its peer is outside the cgroup).",
    (c) => [
      [{ result: "added" }, c.socketsAdded],
      [{ result: "skipped" }, c.socketsSkipped],
      [{ result: "dropped" }, c.socketsDropped],
    ],
    ["result"],
  );
}

export interface SockmapDoctor {
  object?: string;
  loads?: boolean;
  error?: string;
  /** Gateway cgroups (`sluice-<pid>`) under the cgroup2 mount and how many processes each holds. */
  cgroups: Array<{ path: string; processes: number }>;
  /** The counters of every gateway's sockmap on this host (one map per running gateway). */
  live: Array<{ mapId: number; counters: SockmapCounters }>;
}

/** For `sluice doctor`: does the program pass the verifier here, and what are running gateways doing. */
export function sockmapDoctor(load: boolean): SockmapDoctor {
  const d: SockmapDoctor = { cgroups: [], live: [] };
  try {
    d.object = bpfObjectPath("sockops");
  } catch (e) {
    d.error = (e as Error).message;
  }
  d.cgroups = gatewayCgroups();
  // Before our own probe load, whose map would otherwise show up among the live ones.
  if (load) {
    try {
      d.live = readLiveCounterMaps(SOCKMAP_STATS_MAP, STAT_COUNT).map((m) => ({ mapId: m.id, counters: countersFromSlots(m.slots) }));
    } catch {
      // Listing maps needs root: without it there is nothing live to show anyway.
    }
  }
  if (d.object && load) {
    try {
      const b = libbpf();
      const obj = b.objectOpenFile(d.object);
      try {
        b.objectLoad(obj);
        d.loads = true;
      } finally {
        b.objectClose(obj);
      }
    } catch (e) {
      d.loads = false;
      d.error = (e as Error).message;
    }
  }
  return d;
}

function gatewayCgroups(): Array<{ path: string; processes: number }> {
  const out: Array<{ path: string; processes: number }> = [];
  for (const mount of mountsOfType("cgroup2")) {
    let names: string[] = [];
    try {
      names = readdirSync(mount).filter((n) => /^sluice-\d+$/.test(n));
    } catch {
      continue;
    }
    for (const n of names) out.push({ path: join(mount, n), processes: procsOf(join(mount, n)).length });
  }
  return out;
}

export function formatSockmapDoctor(d: SockmapDoctor): string[] {
  const lines = [`sockmap program  ${d.object ? `${d.object}${d.loads === undefined ? "" : d.loads ? " (loads)" : ` (does not load: ${d.error})`}` : (d.error ?? "not built")}`];
  for (const c of d.cgroups) lines.push(`  cgroup         ${c.path} (${c.processes} processes)`);
  for (const m of d.live) {
    const c = m.counters;
    lines.push(`  live map ${m.mapId}   ${c.redirectedMsgs} messages / ${c.redirectedBytes} bytes redirected; ${c.passedMsgs} passed; sockets ${c.socketsAdded} added, ${c.socketsSkipped} skipped, ${c.socketsDropped} dropped`);
  }
  return lines;
}
