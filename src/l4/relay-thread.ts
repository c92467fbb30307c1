// Relay threads: a thread of the worker process moves each TCP pair's bytes, so payload never
// enters JavaScript's event loop and the work runs on the proxy's own CPU (the eBPF splice does it
// in the sender's softirq, on loopback the sender's CPU). Two kinds, one protocol:
//   "uring":  io_uring recv/send chains, one io_uring_enter(2) per batch (uring-worker.ts);
//   "splice": splice(2) socket -> pipe -> socket driven by epoll (splice-worker.ts).
//
// Ownership: the relay works on dup()s of the sockets' fds. The node net.Socket objects keep the
// originals, stop reading them, and are destroyed when the relay reports the pair done; the thread
// closes its dups itself. Each fd is thus closed exactly once, by its one owner, and an fd number
// the main thread closes (gateway stop) can never be reused under the thread.
//
// The thread blocks in the kernel (io_uring_enter, epoll_wait), so the main thread talks to it
// through a pipe of fixed-size records (add pair, abort pair, stop; each write is atomic), and it
// answers with postMessage (pair id, bytes each way, errno).
import type { Worker } from "node:worker_threads";
import { childLog } from "../observe/log.js";
import * as C from "../sys/libc.js";
import { moduleWorker } from "./module-worker.js";
import { IoUring, BufRing } from "../sys/io-uring.js";
import { OP_ABORT, OP_ADD, OP_STOP, RECORD, type RelayWorkerData, type RelayWorkerReport } from "./relay-protocol.js";

export type RelayThreadKind = "uring" | "splice";
const MODULES: Record<RelayThreadKind, string> = { uring: "uring-worker", splice: "splice-worker" };

/** What the thread reports when a pair is done. `errno` 0: both sides ended cleanly (or aborted). */
export interface ThreadRelayResult {
  up: number;
  down: number;
  errno: number;
}

/**
 * Pipe capacity: at most this many bytes per direction wait in the relay for a slow destination.
 * Measured (bench/l4-pipe-size.ts, 64 KiB-write streams, -c8, proxy CPU per GiB, loaded machine):
 * 16 KiB ~1760 ms, 64 KiB (the kernel default) ~980, 256 KiB ~750, 1 MiB ~600; 64 B ping-pong
 * does not depend on it. 256 KiB takes most of the gain while a pool of empty pipes stays far from
 * pipe-user-pages-soft (64 MiB of pipe capacity per unprivileged user; past it new pipes are tiny).
 */
export const DEFAULT_PIPE_SIZE = 256 * 1024;

export class RelayThread {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: ThreadRelayResult) => void>();
  private readonly record = Buffer.alloc(RECORD);
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private closed = false;
  private readonly onExit = (): void => {
    this.send(OP_STOP, 0, 0, 0);
  };

  private constructor(
    private readonly c: C.Libc,
    private readonly ctlW: number,
    ctlR: number,
    readonly kind: RelayThreadKind,
    pipeSize: number,
  ) {
    const workerData: RelayWorkerData = { ctlFd: ctlR, pipeSize };
    this.worker = moduleWorker(import.meta.url, MODULES[kind], { workerData });
    this.worker.on("message", (flat: RelayWorkerReport) => {
      for (let i = 0; i + 3 < flat.length; i += 4) {
        const cb = this.waiting.get(flat[i]!);
        if (cb === undefined) continue;
        this.waiting.delete(flat[i]!);
        cb({ up: flat[i + 1]!, down: flat[i + 2]!, errno: flat[i + 3]! });
      }
    });
    this.exited = new Promise((resolve) => {
      this.worker.once("exit", () => {
        this.closed = true;
        // A thread that died leaves its pairs unreported: report them as failed.
        for (const cb of this.waiting.values()) cb({ up: 0, down: 0, errno: -1 });
        this.waiting.clear();
        resolve();
      });
    });
    this.worker.on("error", (e) => childLog("l4-splice").error({ err: e.message, kind }, "L4 relay thread failed"));
    this.worker.unref();
    process.once("exit", this.onExit);
  }

  static start(kind: RelayThreadKind, pipeSize = DEFAULT_PIPE_SIZE): RelayThread {
    const c = C.libc();
    const fds = Buffer.alloc(8);
    // Non-blocking: a full control pipe is reported, never waited for on the main thread.
    if (c.pipe2(fds, C.O_NONBLOCK | C.O_CLOEXEC) !== 0) throw new Error(`pipe2: errno ${c.errno()}`);
    return new RelayThread(c, fds.readInt32LE(4), fds.readInt32LE(0), kind, pipeSize);
  }

  /** Pairs handed over and not yet reported done. */
  get active(): number {
    return this.waiting.size;
  }

  /**
   * Hands two connected sockets (by fd; the caller keeps its fds) to the thread. Returns the pair's
   * id, or null with nothing changed when it cannot (no fds left, thread gone). `onEnd` runs once,
   * on this thread, when the relay is done with the pair and has closed its copies of the fds.
   */
  relay(clientFd: number, backendFd: number, onEnd: (r: ThreadRelayResult) => void): number | null {
    if (this.closed) return null;
    const a = this.c.fcntl(clientFd, C.F_DUPFD_CLOEXEC, 0);
    if (a < 0) return null;
    const b = this.c.fcntl(backendFd, C.F_DUPFD_CLOEXEC, 0);
    if (b < 0) {
      this.c.close(a);
      return null;
    }
    // Ids travel as int32 and wrap; one still waiting is skipped.
    let id = this.nextId;
    while (this.waiting.has(id)) id = (id % 0x7fffffff) + 1;
    this.nextId = (id % 0x7fffffff) + 1;
    if (!this.send(OP_ADD, id, a, b)) {
      this.c.close(a);
      this.c.close(b);
      return null;
    }
    this.waiting.set(id, onEnd);
    return id;
  }

  /** Ends a pair early (its sockets are being closed here): the thread closes its copies, no reset. */
  abort(id: number): void {
    if (this.waiting.has(id)) this.send(OP_ABORT, id, 0, 0);
  }

  /** Stops the thread: every pair still relayed is closed and reported. */
  async close(): Promise<void> {
    if (!this.closed) {
      // Held referenced until it has exited: an unreferenced thread would let the event loop end first.
      this.worker.ref();
      this.send(OP_STOP, 0, 0, 0);
      process.off("exit", this.onExit);
    }
    await this.exited;
    this.c.close(this.ctlW);
  }

  private send(op: number, id: number, a: number, b: number): boolean {
    const r = this.record;
    r.writeInt32LE(op, 0);
    r.writeInt32LE(id, 4);
    r.writeInt32LE(a, 8);
    r.writeInt32LE(b, 12);
    // Below PIPE_BUF: written whole or not at all.
    return this.c.write(this.ctlW, r, RECORD) === RECORD;
  }
}

const instances = new Map<RelayThreadKind, RelayThread | null>();

/**
 * Why this process cannot run an io_uring relay (null: it can): the thread needs io_uring with
 * DEFER_TASKRUN and provided-buffer rings (Linux 6.1+), which a sysctl
 * (kernel.io_uring_disabled) or a container's seccomp profile may also refuse. Tried here, on the
 * main thread, so a refusal is known before any pair is handed over.
 */
export function uringRefusal(): string | null {
  let ring: IoUring | null = null;
  try {
    ring = new IoUring(8, 16);
    new BufRing(ring, 1, 4096, 0);
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    ring?.close();
  }
}

/** This process's relay thread of `kind`, started on first use; null where it cannot run (said once). */
export function relayThread(kind: RelayThreadKind): RelayThread | null {
  const known = instances.get(kind);
  if (known !== undefined) return known;
  let t: RelayThread | null = null;
  if (process.platform === "linux") {
    let why = kind === "uring" ? uringRefusal() : null;
    if (why === null) {
      try {
        // SLUICE_SPLICE_PIPE_SIZE: for measuring other sizes (bench/l4-pipe-size.ts).
        t = RelayThread.start(kind, Number(process.env.SLUICE_SPLICE_PIPE_SIZE) || DEFAULT_PIPE_SIZE);
      } catch (e) {
        why = (e as Error).message;
      }
    }
    if (why !== null) {
      const next = kind === "uring" ? "the splice(2) thread" : "userspace";
      childLog("l4-splice").warn({ err: why }, `no ${kind === "uring" ? "io_uring" : "splice(2)"} relay thread; L4 routes relay through ${next}`);
    }
  }
  instances.set(kind, t);
  return t;
}

/** Stops this process's relay threads (tests; a gateway's worker simply exits). */
export async function stopRelayThreads(): Promise<void> {
  const running = [...instances.values()];
  instances.clear();
  for (const t of running) if (t) await t.close();
}
