// The splice(2) relay thread's own code (started by relay-thread.ts, which explains the threads).
// It blocks in epoll_wait; per readiness event it moves one direction's bytes on with splice(2),
// socket -> pipe -> socket, so the payload is never copied. A socket in the socket-acceleration
// sockmap receives on its psock queue, which splice(2) does not read: that direction copies through
// read(2) and write(2) for good.
//
// Cheaper events do not make it faster where it matters. Copying small messages with read/write
// instead of splicing them, or passing the hot calls only numbers (koffi converts those fastest),
// cut the relay's CPU per 64 B round trip (13.1 -> 12.6 us), but the thread then sleeps in
// epoll_wait 2-5x as often, and waking it costs the senders' CPU more than the relay saves: 0-20%
// fewer round trips/s where the load generator's CPU is the limit (measured, bench layout).
//
// Bytes the destination does not take wait in the direction's pipe; the source is then not polled
// until the destination takes them (back-pressure: at most one pipe of bytes per direction). An
// empty pipe goes back to a shared pool, so idle pairs hold no pipe. A source's EOF becomes
// shutdown(SHUT_WR) of the destination once its pipe is empty (half-close); an error on either
// socket closes both, with SO_LINGER 0 so the peer sees a reset.
import { parentPort, workerData } from "node:worker_threads";
import * as C from "../sys/libc.js";
import { applyRecords, RECORD, type RelayControl, type RelayWorkerData, type RelayWorkerReport } from "./relay-protocol.js";

/** Empty pipes kept for reuse (an empty pipe holds no pages, but counts against the user's pipe quota). */
const POOL_KEEP = 16;
/** Token of the control pipe in the epoll set; pair sides use id * 2 + side (ids start at 1). */
const CTL_TOKEN = 0;
const MAX_EVENTS = 256;
const FLAGS = C.SPLICE_F_MOVE | C.SPLICE_F_NONBLOCK;
/** Failure of a pair inside copy(), after fail() has ended it. */
const FAILED = -2;

interface Pipe {
  r: number;
  w: number;
}

interface Direction {
  src: 0 | 1;
  dst: 0 | 1;
  /** Holds bytes the destination has not taken yet (and spliced bytes in transit); null when empty. */
  pipe: Pipe | null;
  pending: number;
  bytes: number;
  eof: boolean;
  shut: boolean;
  /** Reads its source with read(2) for good (psock queue). */
  copy: boolean;
}

interface Pair {
  id: number;
  fd: [number, number];
  /** epoll interest registered per side (0: not in the set). */
  mask: [number, number];
  dir: [Direction, Direction];
  done: boolean;
}

const libc = C.libc();
const koffi = libc.koffi;
const { ctlFd, pipeSize } = workerData as RelayWorkerData;
const port = parentPort!;

const epfd = libc.epoll_create1(C.EPOLL_CLOEXEC);
if (epfd < 0) throw new Error(`epoll_create1 failed: errno ${libc.errno()}`);
const EV = C.EPOLL_EVENT_SIZE;
const events = Buffer.alloc(EV * MAX_EVENTS);
const events32 = new Uint32Array(events.buffer, events.byteOffset, events.length >> 2); // fields are 4-aligned
const EV4 = EV >> 2;
const OFF4 = C.EPOLL_DATA_OFFSET >> 2;
const scratch = Buffer.alloc(64 * 1024);
// The copy path takes the buffer by address (it lives as long as the thread and never moves).
const scratchAt = Number(koffi.address(scratch));
const one = Buffer.alloc(EV);
const ctlBuf = Buffer.alloc(RECORD * 256);
const two = Buffer.alloc(8);
const linger0 = Buffer.alloc(8);
linger0.writeInt32LE(1, 0); // l_onoff 1, l_linger 0

const pairs = new Map<number, Pair>();
const pool: Pipe[] = [];
let finished: RelayWorkerReport = [];

function ctl(op: number, fd: number, mask: number, token: number): number {
  one.fill(0);
  one.writeUInt32LE(mask >>> 0, 0);
  one.writeBigUInt64LE(BigInt(token), C.EPOLL_DATA_OFFSET);
  return libc.epoll_ctl(epfd, op, fd, one);
}

function takePipe(): Pipe | null {
  const kept = pool.pop();
  if (kept !== undefined) return kept;
  if (libc.pipe2(two, C.O_NONBLOCK | C.O_CLOEXEC) !== 0) return null;
  const p = { r: two.readInt32LE(0), w: two.readInt32LE(4) };
  if (pipeSize > 0) libc.fcntl(p.w, C.F_SETPIPE_SZ, pipeSize); // best effort: the default size works too
  return p;
}

function closePipe(p: Pipe): void {
  libc.close(p.r);
  libc.close(p.w);
}

/** An empty pipe goes back to the pool; one still holding bytes is closed with them. */
function givePipe(d: Direction): void {
  if (d.pipe === null) return;
  if (d.pending === 0 && pool.length < POOL_KEEP) pool.push(d.pipe);
  else closePipe(d.pipe);
  d.pipe = null;
}

function direction(src: 0 | 1, dst: 0 | 1): Direction {
  return { src, dst, pipe: null, pending: 0, bytes: 0, eof: false, shut: false, copy: false };
}

function addPair(id: number, cfd: number, bfd: number): void {
  const p: Pair = { id, fd: [cfd, bfd], mask: [0, 0], dir: [direction(0, 1), direction(1, 0)], done: false };
  pairs.set(id, p);
  update(p);
}

/** Interest per side: read while its outgoing direction has nothing queued; write while the incoming one has. */
function update(p: Pair): void {
  for (let s = 0; s < 2; s++) {
    const out = p.dir[s]!;
    const inc = p.dir[1 - s]!;
    const want = (!out.eof && out.pending === 0 ? C.EPOLLIN : 0) | (inc.pending > 0 ? C.EPOLLOUT : 0);
    const had = p.mask[s]!;
    if (want === had) continue;
    // A side with no interest leaves the set: level-triggered HUP/ERR would otherwise fire forever.
    const op = had === 0 ? C.EPOLL_CTL_ADD : want === 0 ? C.EPOLL_CTL_DEL : C.EPOLL_CTL_MOD;
    if (ctl(op, p.fd[s]!, want, p.id * 2 + s) !== 0) {
      fail(p, libc.errno());
      return;
    }
    p.mask[s] = want;
  }
}

/** Moves queued bytes on; true unless the pair failed. Leaves bytes queued when the destination is full. */
function flush(p: Pair, d: Direction): boolean {
  if (d.pending > 0) {
    const m = libc.splice(d.pipe!.r, null, p.fd[d.dst], null, d.pending, FLAGS);
    if (m > 0) d.pending -= m;
    else if (m < 0) {
      const e = libc.errno();
      if (e !== C.EAGAIN && e !== C.EINTR) return fail(p, e);
    }
    if (d.pending > 0) return true;
  }
  givePipe(d);
  if (d.eof && !d.shut) {
    d.shut = true;
    libc.shutdown(p.fd[d.dst], C.SHUT_WR);
  }
  return true;
}

/**
 * read() into scratch, then write() to the destination: bytes moved, 0 at EOF, -1 and errno, or
 * FAILED. What the destination does not take waits in the direction's (empty) pipe.
 */
function copy(p: Pair, d: Direction): number {
  const n = libc.read_at(p.fd[d.src], scratchAt, scratch.length);
  if (n <= 0) return n;
  let w = libc.write_at(p.fd[d.dst], scratchAt, n);
  if (w === n) return n;
  if (w < 0) {
    const e = libc.errno();
    if (e !== C.EAGAIN && e !== C.EINTR) {
      fail(p, e);
      return FAILED;
    }
    w = 0;
  }
  // An empty pipe holds at least 64 KiB (the scratch size): the write takes all the rest.
  const rest = n - w;
  const q = d.pipe !== null || (d.pipe = takePipe()) !== null ? libc.write_at(d.pipe.w, scratchAt + w, rest) : -1;
  if (q !== rest) {
    fail(p, q < 0 ? libc.errno() : C.EIO);
    return FAILED;
  }
  d.pending = rest;
  return n;
}

/** Moves what the source has (its direction has nothing queued); false when the pair failed. */
function pump(p: Pair, d: Direction): boolean {
  let n: number;
  let spliced = false;
  if (d.copy) n = copy(p, d);
  else {
    if (d.pipe === null && (d.pipe = takePipe()) === null) return fail(p, libc.errno());
    n = libc.splice(p.fd[d.src], null, d.pipe.w, null, pipeSize, FLAGS);
    if (n > 0) {
      d.pending = n;
      spliced = true;
    } else if (n === 0 || libc.errno() === C.EAGAIN) {
      // splice(2) does not read a psock queue: it answers EAGAIN (EOF once the FIN came) while
      // read() has the bytes. read() is the authority; once it finds bytes splice missed, this
      // direction copies through read() for good.
      n = copy(p, d);
      if (n > 0) d.copy = true;
    }
  }
  if (n === FAILED) return false;
  if (n > 0) {
    d.bytes += n;
    // Spliced bytes wait in the pipe to go on; copied ones left there found the destination full.
    return spliced || d.pending === 0 ? flush(p, d) : true;
  }
  if (n === 0) {
    d.eof = true;
    return flush(p, d);
  }
  const e = libc.errno();
  if (e === C.EAGAIN || e === C.EINTR) {
    givePipe(d);
    return true;
  }
  return fail(p, e);
}

function onEvent(p: Pair, s: 0 | 1, ev: number): void {
  const inc = p.dir[1 - s]!;
  const out = p.dir[s];
  const bad = ev & (C.EPOLLERR | C.EPOLLHUP);
  if ((ev & C.EPOLLOUT || bad) && inc.pending > 0 && !flush(p, inc)) return;
  if ((ev & C.EPOLLIN || bad) && !out.eof && out.pending === 0 && !pump(p, out)) return;
  if (p.dir[0].shut && p.dir[1].shut) return end(p, 0, false);
  update(p);
}

function fail(p: Pair, errno: number): false {
  end(p, errno || -1, true);
  return false;
}

/** Closes the pair's dups and pipes and reports it. With `reset`, the peers see RST, not FIN. */
function end(p: Pair, errno: number, reset: boolean): void {
  if (p.done) return;
  p.done = true;
  pairs.delete(p.id);
  for (let s = 0; s < 2; s++) {
    // The epoll entry belongs to the socket, not the fd: the main thread's fd keeps it alive.
    if (p.mask[s] !== 0) ctl(C.EPOLL_CTL_DEL, p.fd[s]!, 0, 0);
    if (reset) libc.setsockopt(p.fd[s]!, C.SOL_SOCKET, C.SO_LINGER, linger0, 8);
    libc.close(p.fd[s]!);
  }
  for (const d of p.dir) givePipe(d);
  finished.push(p.id, p.dir[0].bytes, p.dir[1].bytes, errno);
}

const control: RelayControl = {
  add: addPair,
  abort(id) {
    const p = pairs.get(id);
    if (p) end(p, 0, false);
  },
};

/** Applies the control records waiting; true when the thread is to stop. */
function readControl(): boolean {
  const n = libc.read(ctlFd, ctlBuf, ctlBuf.length);
  if (n <= 0) return n === 0 || libc.errno() !== C.EAGAIN; // writer gone: stop
  return applyRecords(ctlBuf, n, control);
}

function run(): void {
  ctl(C.EPOLL_CTL_ADD, ctlFd, C.EPOLLIN, CTL_TOKEN);
  let stop = false;
  while (!stop) {
    const n = libc.epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (libc.errno() === C.EINTR) continue;
      break;
    }
    for (let i = 0; i < n; i++) {
      const ev = events32[i * EV4]!;
      const token = events32[i * EV4 + OFF4]!; // tokens fit the low half (little-endian)
      if (token === CTL_TOKEN) {
        if (readControl()) stop = true;
        continue;
      }
      const p = pairs.get(token >>> 1);
      if (p !== undefined && !p.done) onEvent(p, (token & 1) as 0 | 1, ev);
    }
    if (finished.length > 0) {
      port.postMessage(finished);
      finished = [];
    }
  }
  for (const p of [...pairs.values()]) end(p, 0, false);
  for (const p of pool.splice(0)) closePipe(p);
  libc.close(epfd);
  libc.close(ctlFd);
  if (finished.length > 0) port.postMessage(finished);
}

run();
