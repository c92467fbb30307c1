// The splice(2) relay: a thread of this process moves each TCP pair's bytes socket -> pipe ->
// socket with splice(2), so payload never enters JavaScript and the work runs on the proxy's own
// CPU (the eBPF splice does it in the sender's softirq, on loopback the sender's CPU).
//
// Ownership: the relay works on dup()s of the sockets' fds. The node net.Socket objects keep the
// originals, stop reading them, and are destroyed when the relay reports the pair done; the thread
// closes its dups itself. Each fd is thus closed exactly once, by its one owner, and an fd number
// the main thread closes (gateway stop) can never be reused under the thread.
//
// The thread blocks in epoll_wait, so the main thread talks to it through a pipe of fixed-size
// records (add pair, abort pair, stop; each write is atomic), and it answers with postMessage
// (pair id, bytes each way, errno).
//
// Per direction: splice from the source into a pipe, then from the pipe into the destination.
// Level-triggered epoll, one splice in per readiness event. When the destination takes only part
// (its send buffer is full), the rest stays in that direction's pipe; the thread stops polling the
// source and waits for EPOLLOUT on the destination (back-pressure: at most one pipe of bytes in
// flight per direction). An empty pipe goes back to a shared pool, so idle pairs hold no pipe.
// A source's EOF becomes shutdown(SHUT_WR) of the destination once its pipe is empty (half-close);
// an error on either socket closes both, with SO_LINGER 0 so the peer sees a reset.
import { Worker } from "node:worker_threads";
import { childLog } from "../observe/log.js";
import * as C from "../sys/libc.js";

/** What the thread reports when a pair is done. `errno` 0: both sides ended cleanly (or aborted). */
export interface ThreadRelayResult {
  up: number;
  down: number;
  errno: number;
}

const OP_ADD = 1;
const OP_ABORT = 2;
const OP_STOP = 3;
const RECORD = 16;
/** Token of the control pipe in the epoll set; pair sides use id * 2 + side (ids start at 1). */
const CTL_TOKEN = 0;

/**
 * Pipe capacity: at most this many bytes per direction wait in the relay for a slow destination.
 * Measured (bench/l4-pipe-size.ts, 64 KiB-write streams, -c8, proxy CPU per GiB, loaded machine):
 * 16 KiB ~1760 ms, 64 KiB (the kernel default) ~980, 256 KiB ~750, 1 MiB ~600; 64 B ping-pong
 * does not depend on it. 256 KiB takes most of the gain while a pool of empty pipes stays far from
 * pipe-user-pages-soft (64 MiB of pipe capacity per unprivileged user; past it new pipes are tiny).
 */
export const DEFAULT_PIPE_SIZE = 256 * 1024;
/**
 * Small messages go by read(2) into a buffer and write(2) on: two calls of three number arguments,
 * where splice(2) takes two of six and a pipe. A read that fills this many bytes means the
 * direction streams: it splices from then on, until a splice moves less than a quarter of it.
 */
const SMALL = 16 * 1024;
/** Empty pipes kept for reuse (an empty pipe holds no pages, but counts against the user's pipe quota). */
const POOL_KEEP = 16;

const WORKER_SOURCE = `${C.LIBC_IN_WORKER}
const { workerData, parentPort } = require("node:worker_threads");
const K = workerData.k;
const { ctlFd, pipeSize } = workerData;
const epfd = libc.epoll_create1(K.EPOLL_CLOEXEC);
if (epfd < 0) throw new Error("epoll_create1 failed: errno " + koffi.errno());
const EV = K.EVENT_SIZE, OFF = K.DATA_OFFSET;
const MAX_EVENTS = 256;
const events = Buffer.alloc(EV * MAX_EVENTS);
// Buffers the hot calls take by address (a number converts faster than a Buffer); they live as
// long as the thread, and their memory never moves.
const eventsAt = Number(koffi.address(events));
const events32 = new Uint32Array(events.buffer, events.byteOffset, events.length >> 2); // fields are 4-aligned
const EV4 = EV >> 2, OFF4 = OFF >> 2;
const one = Buffer.alloc(EV);
const ctlBuf = Buffer.alloc(${RECORD} * 256);
const two = Buffer.alloc(8);
const scratch = Buffer.alloc(64 * 1024);
const scratchAt = Number(koffi.address(scratch));
const linger0 = Buffer.alloc(8); linger0.writeInt32LE(1, 0); // l_onoff 1, l_linger 0
const FLAGS = K.SPLICE_F_MOVE | K.SPLICE_F_NONBLOCK;
const pairs = new Map();
const pool = [];
let finished = [];

function ctl(op, fd, mask, token) {
  one.fill(0);
  one.writeUInt32LE(mask >>> 0, 0);
  one.writeBigUInt64LE(BigInt(token), OFF);
  return libc.epoll_ctl(epfd, op, fd, one);
}
ctl(K.EPOLL_CTL_ADD, ctlFd, K.EPOLLIN, ${CTL_TOKEN});

function takePipe() {
  if (pool.length > 0) return pool.pop();
  if (libc.pipe2(two, K.O_NONBLOCK | K.O_CLOEXEC) !== 0) return null;
  const p = { r: two.readInt32LE(0), w: two.readInt32LE(4) };
  if (pipeSize > 0) libc.fcntl(p.w, K.F_SETPIPE_SZ, pipeSize); // best effort: the default size works too
  return p;
}
function closePipe(p) { libc.close(p.r); libc.close(p.w); }
/** An empty pipe goes back to the pool; one still holding bytes is closed with them. */
function givePipe(d) {
  if (d.pipe === null) return;
  if (d.pending === 0 && pool.length < ${POOL_KEEP}) pool.push(d.pipe);
  else closePipe(d.pipe);
  d.pipe = null;
}

function addPair(id, cfd, bfd) {
  const dir = (src, dst) => ({ src, dst, pipe: null, pending: 0, bytes: 0, eof: false, shut: false, copy: false, small: true });
  const p = { id, fd: [cfd, bfd], mask: [0, 0], dir: [dir(0, 1), dir(1, 0)], done: false };
  pairs.set(id, p);
  update(p);
}

/** Interest per side: read while its outgoing direction has nothing queued; write while the incoming one has. */
function update(p) {
  for (let s = 0; s < 2; s++) {
    const out = p.dir[s], inc = p.dir[1 - s];
    const want = (!out.eof && out.pending === 0 ? K.EPOLLIN : 0) | (inc.pending > 0 ? K.EPOLLOUT : 0);
    const had = p.mask[s];
    if (want === had) continue;
    // A side with no interest leaves the set: level-triggered HUP/ERR would otherwise fire forever.
    const op = had === 0 ? K.EPOLL_CTL_ADD : want === 0 ? K.EPOLL_CTL_DEL : K.EPOLL_CTL_MOD;
    if (ctl(op, p.fd[s], want, p.id * 2 + s) !== 0) return fail(p, koffi.errno());
    p.mask[s] = want;
  }
}

/** Moves queued bytes on; true unless the pair failed. Leaves bytes queued when the destination is full. */
function flush(p, d) {
  if (d.pending > 0) {
    const m = libc.splice_n(d.pipe.r, 0, p.fd[d.dst], 0, d.pending, FLAGS);
    if (m > 0) d.pending -= m;
    else if (m < 0) {
      const e = koffi.errno();
      if (e !== K.EAGAIN && e !== K.EINTR) return fail(p, e);
    }
    if (d.pending > 0) return true;
  }
  givePipe(d);
  if (d.eof && !d.shut) {
    d.shut = true;
    libc.shutdown(p.fd[d.dst], K.SHUT_WR);
  }
  return true;
}

/**
 * read() into scratch, then write() to the destination: bytes moved, 0 at EOF, -1 and errno, or -2
 * when the pair failed. What the destination does not take waits in the direction's (empty) pipe.
 */
function copy(p, d, max) {
  const n = libc.read_at(p.fd[d.src], scratchAt, max);
  if (n <= 0) return n;
  let w = libc.write_at(p.fd[d.dst], scratchAt, n);
  if (w === n) return n;
  if (w < 0) {
    const e = koffi.errno();
    if (e !== K.EAGAIN && e !== K.EINTR) {
      fail(p, e);
      return -2;
    }
    w = 0;
  }
  // An empty pipe holds at least 64 KiB (the scratch size): the write takes all the rest.
  const rest = n - w;
  const q = d.pipe !== null || (d.pipe = takePipe()) !== null ? libc.write_at(d.pipe.w, scratchAt + w, rest) : -1;
  if (q !== rest) {
    fail(p, q < 0 ? koffi.errno() : K.EIO);
    return -2;
  }
  d.pending = rest;
  return n;
}

function pump(p, d) {
  let n, spliced = false;
  if (d.copy || d.small) {
    n = copy(p, d, d.copy ? scratch.length : ${SMALL});
    if (n === ${SMALL} && !d.copy) d.small = false; // a full read: this direction streams
  } else {
    if (d.pipe === null && (d.pipe = takePipe()) === null) return fail(p, koffi.errno());
    n = libc.splice_n(p.fd[d.src], 0, d.pipe.w, 0, pipeSize, FLAGS);
    if (n > 0) {
      d.pending = n;
      spliced = true;
      if (n < ${SMALL / 4}) d.small = true;
    } else if (n === 0 || koffi.errno() === K.EAGAIN) {
      // A socket in the socket-acceleration sockmap (its peer is in the gateway's cgroup too, e.g. a
      // demo backend) receives on its psock queue, which splice(2) does not read: it answers EAGAIN
      // (EOF once the FIN came) while read() has the bytes. read() is the authority; once it finds
      // bytes splice missed, this direction copies through read() for good.
      n = copy(p, d, scratch.length);
      if (n > 0) d.copy = true;
    }
  }
  if (n === -2) return false;
  if (n > 0) {
    d.bytes += n;
    // Spliced bytes wait in the pipe to go on; copied ones left there found the destination full.
    return spliced || d.pending === 0 ? flush(p, d) : true;
  }
  if (n === 0) {
    d.eof = true;
    return flush(p, d);
  }
  const e = koffi.errno();
  if (e === K.EAGAIN || e === K.EINTR) {
    givePipe(d);
    return true;
  }
  return fail(p, e);
}

function onEvent(p, s, ev) {
  const inc = p.dir[1 - s], out = p.dir[s];
  const bad = ev & (K.EPOLLERR | K.EPOLLHUP);
  if ((ev & K.EPOLLOUT || bad) && inc.pending > 0 && !flush(p, inc)) return;
  if ((ev & K.EPOLLIN || bad) && !out.eof && out.pending === 0 && !pump(p, out)) return;
  if (p.dir[0].shut && p.dir[1].shut) return end(p, 0, false);
  update(p);
}

function fail(p, errno) {
  end(p, errno || -1, true);
  return false;
}

/** Closes the pair's dups and pipes and reports it. With \`reset\`, the peers see RST, not FIN. */
function end(p, errno, reset) {
  if (p.done) return;
  p.done = true;
  pairs.delete(p.id);
  for (let s = 0; s < 2; s++) {
    // The epoll entry belongs to the socket, not the fd: the main thread's fd keeps it alive.
    if (p.mask[s] !== 0) ctl(K.EPOLL_CTL_DEL, p.fd[s], 0, 0);
    if (reset) libc.setsockopt(p.fd[s], K.SOL_SOCKET, K.SO_LINGER, linger0, 8);
    libc.close(p.fd[s]);
  }
  for (const d of p.dir) givePipe(d);
  finished.push(p.id, p.dir[0].bytes, p.dir[1].bytes, errno);
}

function readControl() {
  const n = libc.read(ctlFd, ctlBuf, ctlBuf.length);
  if (n <= 0) return n === 0 || koffi.errno() !== K.EAGAIN; // writer gone: stop
  for (let o = 0; o + ${RECORD} <= n; o += ${RECORD}) {
    const op = ctlBuf.readInt32LE(o), id = ctlBuf.readInt32LE(o + 4);
    if (op === ${OP_ADD}) addPair(id, ctlBuf.readInt32LE(o + 8), ctlBuf.readInt32LE(o + 12));
    else if (op === ${OP_ABORT}) { const p = pairs.get(id); if (p) end(p, 0, false); }
    else if (op === ${OP_STOP}) return true;
  }
  return false;
}

let stop = false;
while (!stop) {
  const n = libc.epoll_wait_at(epfd, eventsAt, MAX_EVENTS, -1);
  if (n < 0) {
    if (koffi.errno() === K.EINTR) continue;
    break;
  }
  for (let i = 0; i < n; i++) {
    const ev = events32[i * EV4];
    const token = events32[i * EV4 + OFF4]; // tokens fit the low half (little-endian)
    if (token === ${CTL_TOKEN}) { if (readControl()) stop = true; continue; }
    const p = pairs.get(Math.floor(token / 2));
    if (p !== undefined && !p.done) onEvent(p, token & 1, ev);
  }
  if (finished.length > 0) { parentPort.postMessage(finished); finished = []; }
}
for (const p of [...pairs.values()]) end(p, 0, false);
for (const p of pool.splice(0)) closePipe(p);
libc.close(epfd);
libc.close(ctlFd);
if (finished.length > 0) parentPort.postMessage(finished);
`;

/** Constants the thread needs, passed as data (the thread has no TypeScript imports). */
const THREAD_CONSTANTS = {
  EPOLL_CLOEXEC: C.EPOLL_CLOEXEC,
  EVENT_SIZE: C.EPOLL_EVENT_SIZE,
  DATA_OFFSET: C.EPOLL_DATA_OFFSET,
  EPOLLIN: C.EPOLLIN,
  EPOLLOUT: C.EPOLLOUT,
  EPOLLERR: C.EPOLLERR,
  EPOLLHUP: C.EPOLLHUP,
  EPOLL_CTL_ADD: C.EPOLL_CTL_ADD,
  EPOLL_CTL_DEL: C.EPOLL_CTL_DEL,
  EPOLL_CTL_MOD: C.EPOLL_CTL_MOD,
  O_NONBLOCK: C.O_NONBLOCK,
  O_CLOEXEC: C.O_CLOEXEC,
  F_SETPIPE_SZ: C.F_SETPIPE_SZ,
  SPLICE_F_MOVE: C.SPLICE_F_MOVE,
  SPLICE_F_NONBLOCK: C.SPLICE_F_NONBLOCK,
  EAGAIN: C.EAGAIN,
  EINTR: C.EINTR,
  EIO: C.EIO,
  SHUT_WR: C.SHUT_WR,
  SOL_SOCKET: C.SOL_SOCKET,
  SO_LINGER: C.SO_LINGER,
};

export class SpliceThread {
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
    pipeSize: number,
  ) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { libc: C.libcWorkerData(), k: THREAD_CONSTANTS, ctlFd: ctlR, pipeSize },
    });
    this.worker.on("message", (flat: number[]) => {
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
    this.worker.on("error", (e) => childLog("l4-splice").error({ err: e.message }, "splice relay thread failed"));
    this.worker.unref();
    process.once("exit", this.onExit);
  }

  static start(pipeSize = DEFAULT_PIPE_SIZE): SpliceThread {
    const c = C.libc();
    const fds = Buffer.alloc(8);
    // Non-blocking: a full control pipe is reported, never waited for on the main thread.
    if (c.pipe2(fds, C.O_NONBLOCK | C.O_CLOEXEC) !== 0) throw new Error(`pipe2: errno ${c.errno()}`);
    return new SpliceThread(c, fds.readInt32LE(4), fds.readInt32LE(0), pipeSize);
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
    const id = this.nextId++;
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

let instance: SpliceThread | null | undefined;

/** This process's relay thread, started on first use; null where it cannot run (said once). */
export function spliceThread(): SpliceThread | null {
  if (instance !== undefined) return instance;
  instance = null;
  if (process.platform !== "linux") return instance;
  try {
    // SLUICE_SPLICE_PIPE_SIZE: for measuring other sizes (bench/l4-pipe-size.ts).
    instance = SpliceThread.start(Number(process.env.SLUICE_SPLICE_PIPE_SIZE) || DEFAULT_PIPE_SIZE);
  } catch (e) {
    childLog("l4-splice").warn({ err: (e as Error).message }, "no splice(2) relay thread; L4 routes relay in userspace");
  }
  return instance;
}

/** Stops this process's relay thread (tests; a gateway's worker simply exits). */
export async function stopSpliceThread(): Promise<void> {
  const t = instance;
  instance = undefined;
  if (t) await t.close();
}
