// Kernel splicing for L4 routes (bpf/splice.bpf.c), worker side: both sockets of a proxied TCP
// connection go into a sockhash whose sk_skb stream verdict program redirects every received skb
// to the peer socket's send side, so payload never enters userspace. Each worker loads its own
// copy on first use; the maps live as long as the worker.
import type net from "node:net";
import { Counter, register } from "prom-client";
import { childLog, type Logger } from "../observe/log.js";
import { detectBpfSupport } from "./capabilities.js";
import { BPF_SK_SKB_STREAM_VERDICT, libbpf, type Libbpf, type Ptr } from "./libbpf.js";
import { bpfObjectPath } from "./policy-loader.js";
import { readLiveCounterMaps, readPerCpuSlots } from "./sockmap.js";

const SOL_SOCKET = 1;
const SO_RCVLOWAT = 18;
const SO_COOKIE = 57;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
/** tcpi_state of a socket that is closed (linux/tcp_states.h). */
const TCP_CLOSE = 7;
/** SO_RCVLOWAT while a pair is being set up; TCP caps it at half the receive buffer. */
const HOLD_LOWAT = 0x7fffffff;

/** Slots of splice_stats. */
const STAT = { redirectedSkbs: 0, redirectedBytes: 1, passedSkbs: 2, failedSkbs: 3, emptySkbs: 4 } as const;
const STAT_COUNT = 8;
export const SPLICE_STATS_MAP = "splice_stats";

export type SpliceCounters = Record<keyof typeof STAT, number>;

export function spliceCountersFromSlots(slots: bigint[]): SpliceCounters {
  const out = {} as SpliceCounters;
  for (const [k, slot] of Object.entries(STAT) as Array<[keyof typeof STAT, number]>) out[k] = Number(slots[slot] ?? 0n);
  return out;
}

/**
 * The fd under a Node socket (Linux: `_handle.fd`); null once closed. A TLSSocket answers with the
 * raw TCP socket's fd: callers must not splice those (its bytes are ciphertext).
 */
export function socketFd(s: net.Socket): number | null {
  const handle = (s as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : null;
}

/** A spliced pair: the kernel forwards between `a` and `b` until they close. */
export class SplicedPair {
  private readonly gone = { a: false, b: false };

  constructor(
    private readonly k: KernelSplice,
    readonly a: { fd: number; cookie: bigint },
    readonly b: { fd: number; cookie: bigint },
  ) {}

  /** Bytes the kernel took from that side and handed to the other (0 once that side is removed). */
  forwarded(from: "a" | "b"): number {
    return this.gone[from] ? 0 : this.k.forwardedFrom(this[from].cookie);
  }

  /**
   * Takes one side out of the maps, when it has closed (the kernel already dropped it from the
   * sockhash). The other side stays until it closes too: taking a socket out of the sockhash
   * throws away bytes still queued to be sent on it.
   */
  remove(side: "a" | "b"): void {
    if (this.gone[side]) return;
    this.gone[side] = true;
    this.k.forget(this[side].cookie);
  }
}

export class KernelSplice {
  private readonly socks: number;
  private readonly peers: number;
  private readonly stats: number;
  private readonly cpus: number;
  private readonly key = Buffer.alloc(8);
  private readonly peerValue = Buffer.alloc(16);
  private readonly info = Buffer.alloc(232);
  private readonly cookieBuf = Buffer.alloc(8);
  private closed = false;

  private constructor(
    private readonly b: Libbpf,
    private readonly obj: Ptr,
  ) {
    this.socks = b.mapFd(b.findMap(obj, "splice_socks"));
    this.peers = b.mapFd(b.findMap(obj, "splice_peers"));
    this.stats = b.mapFd(b.findMap(obj, SPLICE_STATS_MAP));
    this.cpus = b.possibleCpus();
  }

  static load(objectPath = bpfObjectPath("splice")): KernelSplice {
    const b = libbpf();
    const obj = b.objectOpenFile(objectPath);
    try {
      b.objectLoad(obj);
      const k = new KernelSplice(b, obj);
      b.progAttach(b.programFd(b.findProgram(obj, "sluice_splice")), k.socks, BPF_SK_SKB_STREAM_VERDICT);
      return k;
    } catch (e) {
      b.objectClose(obj);
      throw e;
    }
  }

  cookie(fd: number): bigint {
    this.b.getsockopt(fd, SOL_SOCKET, SO_COOKIE, this.cookieBuf);
    return this.cookieBuf.readBigUInt64LE(0);
  }

  /**
   * Splices two connected TCP sockets. Throws, with nothing left in the maps, when the kernel
   * refuses (a socket that already got a FIN is no longer ESTABLISHED, for instance).
   *
   * No byte may be redirected to a socket not yet in the sockhash (it would be dropped), and bytes
   * queued before the splice must go first. So: a high SO_RCVLOWAT keeps TCP from running the
   * verdict while we set up; both sockets enter the sockhash; then the peer entries (a socket
   * without one keeps its bytes for userspace); then SO_RCVLOWAT 1 makes TCP re-check readiness,
   * which runs the verdict over what was queued, in order. Only a FIN overrides the low-water
   * mark: bytes that arrive with one during the setup reach userspace, which forwards them, and
   * nothing follows them from that side.
   */
  splice(aFd: number, bFd: number): SplicedPair {
    this.assertOpen();
    const a = { fd: aFd, cookie: this.cookie(aFd) };
    const b = { fd: bFd, cookie: this.cookie(bFd) };
    try {
      this.b.setsockoptInt(aFd, SOL_SOCKET, SO_RCVLOWAT, HOLD_LOWAT);
      this.b.setsockoptInt(bFd, SOL_SOCKET, SO_RCVLOWAT, HOLD_LOWAT);
      this.addSock(a);
      this.addSock(b);
      this.setPeer(a.cookie, b.cookie);
      this.setPeer(b.cookie, a.cookie);
    } catch (e) {
      this.forget(a.cookie, b.cookie);
      this.release(aFd, bFd);
      throw e;
    }
    this.release(aFd, bFd);
    return new SplicedPair(this, a, b);
  }

  private release(...fds: number[]): void {
    for (const fd of fds) {
      try {
        this.b.setsockoptInt(fd, SOL_SOCKET, SO_RCVLOWAT, 1);
      } catch {
        // A socket that died meanwhile: its close event ends the relay.
      }
    }
  }

  /**
   * Bytes handed to this socket for sending so far (by userspace writes and by redirects), and
   * whether it is closed in the kernel (reset by its peer): then nothing more will ever leave it.
   */
  sendState(fd: number): { sent: number; closed: boolean } {
    this.info.fill(0);
    this.b.getsockopt(fd, IPPROTO_TCP, TCP_INFO, this.info);
    // struct tcp_info: tcpi_state @0, tcpi_notsent_bytes @144, tcpi_bytes_sent @200, tcpi_bytes_retrans @208.
    const sent = this.info.readBigUInt64LE(200) - this.info.readBigUInt64LE(208);
    return { sent: Number(sent) + this.info.readUInt32LE(144), closed: this.info[0] === TCP_CLOSE };
  }

  forwardedFrom(cookie: bigint): number {
    this.key.writeBigUInt64LE(cookie);
    return this.b.mapLookup(this.peers, this.key, this.peerValue) ? Number(this.peerValue.readBigUInt64LE(8)) : 0;
  }

  forget(...cookies: bigint[]): void {
    if (this.closed) return;
    for (const c of cookies) {
      this.key.writeBigUInt64LE(c);
      this.b.mapDelete(this.socks, this.key);
      this.b.mapDelete(this.peers, this.key);
    }
  }

  counters(): SpliceCounters {
    return spliceCountersFromSlots(readPerCpuSlots(this.b, this.stats, STAT_COUNT, this.cpus));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.b.objectClose(this.obj);
  }

  private setPeer(cookie: bigint, peer: bigint): void {
    this.key.writeBigUInt64LE(cookie);
    this.peerValue.writeBigUInt64LE(peer, 0);
    this.peerValue.writeBigUInt64LE(0n, 8);
    this.b.mapUpdate(this.peers, this.key, this.peerValue);
  }

  private addSock(s: { fd: number; cookie: bigint }): void {
    this.key.writeBigUInt64LE(s.cookie);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(BigInt(s.fd));
    this.b.mapUpdate(this.socks, this.key, v);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the splice program was closed");
  }
}

/**
 * Control process: decides once whether workers may splice, and says so once. Workers inherit the
 * decision through the environment (they are forked after this).
 */
export function configureKernelSplice(enabled: boolean, log: Logger): void {
  if (!enabled) {
    process.env[SPLICE_ENV] = "off";
    log.info("kernel splicing for L4 routes is off (--no-splice)");
    return;
  }
  const support = detectBpfSupport();
  if (!support.ok) {
    process.env[SPLICE_ENV] = "off";
    log.warn({ reason: support.reason }, `kernel splicing for L4 routes is off: ${support.reason}`);
    return;
  }
  try {
    bpfObjectPath("splice");
  } catch (e) {
    process.env[SPLICE_ENV] = "off";
    log.warn(`kernel splicing for L4 routes is off: ${(e as Error).message}`);
  }
}

/** Set in the environment by the control process (--no-splice, or no eBPF here): workers inherit it. */
export const SPLICE_ENV = "SLUICE_SPLICE";

let instance: KernelSplice | null | undefined;

/** This process's splicer, loaded on first use; null when turned off or unavailable (said once). */
export function kernelSplice(): KernelSplice | null {
  if (instance !== undefined) return instance;
  instance = null;
  if (process.platform !== "linux" || process.env[SPLICE_ENV] === "off") return instance;
  try {
    instance = KernelSplice.load();
    childLog("l4-splice").debug("kernel splicing loaded (sk_skb stream verdict on a sockhash)");
  } catch (e) {
    childLog("l4-splice").warn({ err: (e as Error).message }, "kernel splicing unavailable; L4 routes relay in userspace");
  }
  return instance;
}

/** Per-process connection counts by path, aggregated across workers by the control process. */
export const spliceConnections = { kernel: 0, uring: 0, thread: 0, userspace: 0 };

/** Registers the splice metrics on this process's default registry (a worker's, aggregated by the control). */
export function registerSpliceMetrics(): void {
  for (const name of ["sluice_l4_splice_connections_total", "sluice_l4_splice_bytes_total", "sluice_l4_splice_skbs_total"]) {
    if (register.getSingleMetric(name)) register.removeSingleMetric(name);
  }
  new Counter({
    name: "sluice_l4_splice_connections_total",
    help: "TCP/TLS-passthrough connections of L4 routes by relay path: kernel (sockmap sk_skb splice), uring (io_uring on a relay thread), thread (splice(2) on a relay thread) or userspace.",
    labelNames: ["path"],
    collect() {
      this.reset();
      this.inc({ path: "kernel" }, spliceConnections.kernel);
      this.inc({ path: "uring" }, spliceConnections.uring);
      this.inc({ path: "thread" }, spliceConnections.thread);
      this.inc({ path: "userspace" }, spliceConnections.userspace);
    },
  });
  const fromMap = (name: string, help: string, pick: (c: SpliceCounters) => Array<[Record<string, string>, number]>, labelNames: string[] = []): void => {
    new Counter({
      name,
      help,
      labelNames,
      collect() {
        this.reset();
        if (!instance) return;
        const c = instance.counters();
        for (const [labels, v] of pick(c)) this.inc(labels, v);
      },
    });
  };
  fromMap("sluice_l4_splice_bytes_total", "Bytes the kernel moved between spliced sockets (never copied to userspace).", (c) => [[{}, c.redirectedBytes]]);
  fromMap(
    "sluice_l4_splice_skbs_total",
    "skbs seen by the splice verdict program: redirected to the peer, passed to userspace (no peer), failed (peer gone), or fin (a bare FIN, left for userspace to pass on).",
    (c) => [
      [{ result: "redirected" }, c.redirectedSkbs],
      [{ result: "passed" }, c.passedSkbs],
      [{ result: "failed" }, c.failedSkbs],
      [{ result: "fin" }, c.emptySkbs],
    ],
    ["result"],
  );
}

export interface SpliceDoctor {
  object?: string;
  loads?: boolean;
  error?: string;
  /** The counters of every worker's splice program on this host. */
  live: Array<{ mapId: number; counters: SpliceCounters }>;
}

/** For `sluice doctor`: does the splice program load and attach to a sockhash here, and what are workers doing. */
export function spliceDoctor(load: boolean): SpliceDoctor {
  const d: SpliceDoctor = { live: [] };
  try {
    d.object = bpfObjectPath("splice");
  } catch (e) {
    d.error = (e as Error).message;
  }
  // Before our own probe load, whose map would otherwise show up among the live ones.
  if (load) {
    try {
      d.live = readLiveCounterMaps(SPLICE_STATS_MAP, STAT_COUNT).map((m) => ({ mapId: m.id, counters: spliceCountersFromSlots(m.slots) }));
    } catch {
      // Listing maps needs root.
    }
  }
  if (d.object && load) {
    try {
      KernelSplice.load(d.object).close();
      d.loads = true;
    } catch (e) {
      d.loads = false;
      d.error = (e as Error).message;
    }
  }
  return d;
}

export function formatSpliceDoctor(d: SpliceDoctor): string[] {
  const lines = [`splice program   ${d.object ? `${d.object}${d.loads === undefined ? "" : d.loads ? " (loads)" : ` (does not load: ${d.error})`}` : (d.error ?? "not built")}`];
  for (const m of d.live) {
    const c = m.counters;
    lines.push(`  live map ${m.mapId}   ${c.redirectedSkbs} skbs / ${c.redirectedBytes} bytes spliced; ${c.passedSkbs} passed to userspace; ${c.failedSkbs} failed; ${c.emptySkbs} FINs`);
  }
  return lines;
}
