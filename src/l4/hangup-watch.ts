// Tells when a socket the event loop no longer polls gets a FIN, a reset or an error.
//
// A spliced socket must not be polled for input: after every skb the sk_skb verdict redirects,
// the kernel still calls the socket's original data_ready, which wakes every poller of the socket.
// With the event loop polling, that is a cross-CPU wakeup of the worker per message, which finds
// nothing to read (profiled: about a quarter of the sending CPU). So the relay stops reading the
// spliced sockets and registers them here instead, for EPOLLRDHUP only: data wakeups do not match
// that mask (no wakeup), a FIN or an error does. The epoll set is waited on by one worker thread
// (the event loop cannot poll an epoll fd itself), which posts the ids that fired back to the main
// thread. Each registration fires once.
import type { Worker } from "node:worker_threads";
import { childLog } from "../observe/log.js";
import {
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_DATA_OFFSET as DATA_OFFSET,
  EPOLL_EVENT_SIZE as EVENT_SIZE,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLRDHUP,
  libc,
  O_NONBLOCK as EFD_NONBLOCK,
} from "../sys/libc.js";
import type { HangupWorkerData } from "./hangup-worker.js";
import { moduleWorker } from "./module-worker.js";

/** Registration id the worker reads as "stop". */
const STOP_ID = 0;

export interface HangupWatch {
  /**
   * Calls `onHangup` once, on the main thread, after the socket under `fd` got a FIN, a reset or an
   * error (or at once if it already has). Returns a cancel function, or null when the fd could not
   * be registered (the caller keeps polling the socket itself).
   */
  watch(fd: number, onHangup: () => void): (() => void) | null;
}

class EpollHangupWatch implements HangupWatch {
  private nextId = STOP_ID + 1;
  private readonly waiting = new Map<number, () => void>();
  private readonly event = Buffer.alloc(EVENT_SIZE);
  private worker: Worker | null = null;

  constructor(
    private readonly epfd: number,
    private readonly stopFd: number,
    private readonly ctl: (epfd: number, op: number, fd: number, event: Buffer) => number,
    private readonly write64: (fd: number, value: Buffer, n: number) => number,
  ) {
    if (!this.add(stopFd, EPOLLIN, STOP_ID)) throw new Error("epoll_ctl refused the stop eventfd");
    // Wakes the worker out of epoll_wait so the process does not wait for it at exit.
    process.once("exit", () => this.stop());
  }

  watch(fd: number, onHangup: () => void): (() => void) | null {
    const id = this.nextId++;
    this.waiting.set(id, onHangup);
    if (!this.add(fd, EPOLLRDHUP | EPOLLONESHOT, id)) {
      this.waiting.delete(id);
      return null;
    }
    this.ensureWorker();
    // A closed fd leaves the epoll set by itself; only the callback needs forgetting.
    return () => this.waiting.delete(id);
  }

  private add(fd: number, events: number, id: number): boolean {
    this.event.fill(0);
    this.event.writeUInt32LE(events >>> 0, 0);
    this.event.writeBigUInt64LE(BigInt(id), DATA_OFFSET);
    return this.ctl(this.epfd, EPOLL_CTL_ADD, fd, this.event) === 0;
  }

  private ensureWorker(): void {
    if (this.worker !== null) return;
    const workerData: HangupWorkerData = { epfd: this.epfd, stop: STOP_ID };
    const w = moduleWorker(import.meta.url, "hangup-worker", { workerData });
    w.on("message", (ids: number[]) => {
      for (const id of ids) {
        const cb = this.waiting.get(id);
        if (cb === undefined) continue;
        this.waiting.delete(id);
        cb();
      }
    });
    w.on("error", (e) => childLog("l4-splice").error({ err: e.message }, "hangup watcher thread failed"));
    w.unref();
    this.worker = w;
  }

  private stop(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    this.write64(this.stopFd, one, 8);
  }
}

let instance: HangupWatch | null | undefined;

/** This process's watcher, created on first use; null where it cannot work (then sockets stay polled). */
export function hangupWatch(): HangupWatch | null {
  if (instance !== undefined) return instance;
  instance = null;
  if (process.platform !== "linux") return instance;
  try {
    const c = libc();
    const epfd = c.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw new Error(`epoll_create1: errno ${c.errno()}`);
    const stopFd = c.eventfd(0, EPOLL_CLOEXEC | EFD_NONBLOCK);
    if (stopFd < 0) throw new Error(`eventfd: errno ${c.errno()}`);
    instance = new EpollHangupWatch(epfd, stopFd, c.epoll_ctl, c.write);
  } catch (e) {
    childLog("l4-splice").warn({ err: (e as Error).message }, "no hangup watcher: spliced sockets stay polled by the event loop");
  }
  return instance;
}
