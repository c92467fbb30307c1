// The io_uring relay thread's own code (started by relay-thread.ts; same control records and
// reports as splice-worker.ts). Why: per 64 B round trip the splice(2) thread makes ~4 splice calls
// and most of an epoll_wait, each a syscall plus a koffi call from JavaScript; here one
// io_uring_enter(2) submits every queued operation and waits, and the rest is reading and writing
// the mapped rings.
//
// Each direction of a pair is one chain at a time: a recv (armed at once: POLL_FIRST, since bytes
// rarely wait) into a buffer the kernel picks from a shared ring when data arrives; on its
// completion, a send of those bytes (MSG_WAITALL) linked to the next recv, so the source is not read
// again until the destination took everything (back-pressure: at most one buffer per direction in
// flight). The send's completion gives the buffer back. With no buffer free, a recv fails with
// ENOBUFS; its direction waits for the next buffer given back.
//
// A recv that reads 0 (FIN) becomes shutdown(SHUT_WR) of the destination (half-close: no send is
// in flight then); an error, a failed or short send, or an abort ends the pair: what it still has
// in the ring is cancelled, and once every operation has completed its fds are closed (SO_LINGER 0
// first when it failed, so the peers see a reset).
import { parentPort, workerData } from "node:worker_threads";
import * as C from "../sys/libc.js";
import * as U from "../sys/io-uring.js";
import { applyRecords, RECORD, type RelayControl, type RelayWorkerData, type RelayWorkerReport } from "./relay-protocol.js";

/** Buffer size: a 64 KiB write crosses in one send. */
const BUF = 64 * 1024;
/**
 * Buffers in the shared ring (8 MiB of address space; pages are touched as they are used). A power
 * of 2; SLUICE_URING_BUFFERS sets another (the tests run pairs starved of buffers with it).
 */
const BUFS = ((n: number) => (n > 0 && n <= 32768 && (n & (n - 1)) === 0 ? n : 128))(Number(process.env.SLUICE_URING_BUFFERS));
const GROUP = 0;
const CTL_TOKEN = 0;
/** Completions of cancel requests (only failed ones post one, and they need nothing). */
const CANCEL_TOKEN = 1;
/** Pair tokens: (slot + 1) * 4 + direction * 2 + kind, so they never collide with the two above. */
const KIND_RECV = 0;
const KIND_SEND = 1;
const SEND_FLAGS = U.MSG_NOSIGNAL | U.MSG_WAITALL;
/** How long stopping waits for cancelled operations to complete before closing regardless. */
const STOP_WAIT_MS = 2_000;

/** Direction d of a pair reads fd[d] and writes fd[1 - d]. */
interface Direction {
  /** Buffer being sent on (-1: none) and its length. */
  bid: number;
  len: number;
  eof: boolean;
  bytes: number;
}

interface Pair {
  id: number;
  slot: number;
  fd: [number, number];
  dir: [Direction, Direction];
  /** Operations in the ring that will post a completion. */
  ops: number;
  ending: boolean;
  reset: boolean;
  errno: number;
}

const libc = C.libc();
const koffi = libc.koffi;
const { ctlFd } = workerData as RelayWorkerData;
const port = parentPort!;
const ring = new U.IoUring(1024, 8192);
const bufs = new U.BufRing(ring, BUFS, BUF, GROUP);
const ctlBuf = Buffer.alloc(RECORD * 256);
const ctlAddr = U.splitAddr(BigInt(koffi.address(ctlBuf) as bigint));
const linger0 = Buffer.alloc(8);
linger0.writeInt32LE(1, 0); // l_onoff 1, l_linger 0

/** Pairs by slot (slots are reused, so tokens stay small); by the main thread's id for aborts. */
const slots: (Pair | undefined)[] = [];
const freeSlots: number[] = [];
const byId = new Map<number, Pair>();
/** Directions whose recv found no free buffer, waiting for one (first in, first served from `starvedAt`). */
let starved: { p: Pair; d: 0 | 1 }[] = [];
let starvedAt = 0;
let finished: RelayWorkerReport = [];
let stopping = false;

const token = (p: Pair, d: number, kind: number): number => (p.slot + 1) * 4 + d * 2 + kind;

function direction(): Direction {
  return { bid: -1, len: 0, eof: false, bytes: 0 };
}

function addPair(id: number, cfd: number, bfd: number): void {
  const slot = freeSlots.pop() ?? slots.length;
  const p: Pair = { id, slot, fd: [cfd, bfd], dir: [direction(), direction()], ops: 0, ending: false, reset: false, errno: 0 };
  slots[slot] = p;
  byId.set(id, p);
  recv(p, 0);
  recv(p, 1);
}

/** Queues the direction's next recv (right after a linked send, it starts when that is done). */
function recv(p: Pair, d: 0 | 1): void {
  // A ring still full after submitting what it held: the pair is given up.
  if (!ring.sqe(U.OP_RECV, U.SQE_BUFFER_SELECT, p.fd[d], null, BUF, 0, token(p, d, KIND_RECV), U.RECVSEND_POLL_FIRST, GROUP)) return end(p, C.EIO, true);
  p.ops++;
}

function onCompletion(tok: number, res: number, flags: number): void {
  if (tok < 4) return tok === CTL_TOKEN ? onControl(res) : undefined;
  const p = slots[(tok >>> 2) - 1];
  if (p === undefined) return;
  p.ops--;
  const d = ((tok >>> 1) & 1) as 0 | 1;
  const x = p.dir[d];
  if (tok & KIND_SEND) {
    giveBack(x.bid);
    x.bid = -1;
    // A failed or short send: its linked recv comes back cancelled.
    if (res !== x.len) end(p, res < 0 ? -res : C.EIO, true);
  } else if (res > 0) {
    const bid = flags >>> U.CQE_BUFFER_SHIFT;
    bufs.took();
    if (p.ending) giveBack(bid);
    else {
      x.bytes += res;
      x.bid = bid;
      x.len = res;
      const sent = ring.sqe(U.OP_SEND, U.SQE_IO_LINK, p.fd[1 - d]!, bufs.addr[bid]!, res, SEND_FLAGS, token(p, d, KIND_SEND));
      if (sent) {
        p.ops++;
        recv(p, d);
      } else {
        end(p, C.EIO, true);
      }
    }
  } else if (p.ending) {
    // cancelled, or whatever else came back while ending
  } else if (res === 0) {
    x.eof = true;
    libc.shutdown(p.fd[1 - d]!, C.SHUT_WR);
    if (p.dir[1 - d]!.eof) end(p, 0, false);
  } else if (res === -U.ENOBUFS) {
    starved.push({ p, d });
    // A buffer may have come back earlier in this same batch of completions (its feedStarved ran
    // before this direction was queued); with nothing else in flight no later give-back would
    // re-arm it.
    feedStarved();
  } else end(p, -res, true);
  if (p.ending) finishIfIdle(p);
}

/** Puts a buffer back in the ring and re-arms a direction that found none. */
function giveBack(bid: number): void {
  bufs.give(bid);
  feedStarved();
}

/** Re-arms directions that found no buffer, as far as buffers are free. */
function feedStarved(): void {
  while (starvedAt < starved.length && bufs.available > 0) {
    const { p, d } = starved[starvedAt++]!;
    if (!p.ending) recv(p, d);
  }
  if (starvedAt === starved.length || starvedAt > 1024) {
    starved = starved.slice(starvedAt);
    starvedAt = 0;
  }
}

/** Ends a pair: what it still has in the ring is cancelled; its fds are closed once all completed. */
function end(p: Pair, errno: number, reset: boolean): void {
  if (p.ending) return;
  p.ending = true;
  p.errno = errno;
  p.reset = reset;
  if (p.ops > 0)
    for (const fd of p.fd) {
      // With no room for the cancel, shutting the socket down completes its operations as well.
      if (!ring.sqe(U.OP_ASYNC_CANCEL, U.SQE_CQE_SKIP_SUCCESS, fd, null, 0, U.ASYNC_CANCEL_FD | U.ASYNC_CANCEL_ALL, CANCEL_TOKEN)) libc.shutdown(fd, C.SHUT_RDWR);
    }
  finishIfIdle(p);
}

function finishIfIdle(p: Pair): void {
  if (p.ops === 0 && slots[p.slot] === p) release(p);
}

/** Closes the pair's fds (its operations are done, or the ring is about to close) and reports it. */
function release(p: Pair): void {
  slots[p.slot] = undefined;
  freeSlots.push(p.slot);
  byId.delete(p.id);
  for (const fd of p.fd) {
    if (p.reset) libc.setsockopt(fd, C.SOL_SOCKET, C.SO_LINGER, linger0, 8);
    libc.close(fd);
  }
  finished.push(p.id, p.dir[0].bytes, p.dir[1].bytes, p.errno);
}

function readControl(): void {
  if (!ring.sqe(U.OP_READ, 0, ctlFd, ctlAddr, ctlBuf.length, 0, CTL_TOKEN)) stop();
}

const control: RelayControl = {
  add: addPair,
  abort(id) {
    const p = byId.get(id);
    if (p) end(p, 0, false);
  },
};

function onControl(n: number): void {
  if (n <= 0) {
    if (n === -C.EINTR || n === -C.EAGAIN) return readControl();
    return stop(); // the writer is gone
  }
  if (applyRecords(ctlBuf, n, control)) return stop();
  readControl();
}

function stop(): void {
  stopping = true;
  for (const p of byId.values()) end(p, 0, false);
}

function report(): void {
  if (finished.length === 0) return;
  port.postMessage(finished);
  finished = [];
}

function run(): void {
  readControl();
  let deadline = Infinity;
  while (!stopping || byId.size > 0) {
    if (stopping && deadline === Infinity) deadline = Date.now() + STOP_WAIT_MS;
    // Waits for one completion: waiting for more (a minimum count with a short minimum wait) cut
    // io_uring_enter calls but held replies back at low concurrency (4 connections: 64k -> 19k
    // round trips/s).
    const r = ring.enter(1, stopping ? 100 : -1);
    if (r < 0) {
      const e = libc.errno();
      // EBUSY: completions have to be reaped before more can be submitted.
      if (e !== C.EINTR && e !== C.EAGAIN && e !== U.ETIME && e !== 16) break;
    }
    ring.reap(onCompletion);
    report();
    if (Date.now() > deadline) break;
  }
  // Whatever did not complete in time (or a ring that failed) is closed regardless: closing the
  // ring below cancels its operations.
  for (const p of [...byId.values()]) release(p);
  ring.close();
  libc.close(ctlFd);
  report();
}

run();
