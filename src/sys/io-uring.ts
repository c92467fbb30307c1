// A minimal io_uring instance driven from JavaScript: the submission and completion rings are
// mapped into this thread and read and written as typed arrays, so queueing an operation or
// reaping a completion costs no call into C; one io_uring_enter(2) (through koffi) submits every
// queued operation and waits for completions. Only what the L4 relay needs is here.
//
// The rings are shared with the kernel: indexes it writes (SQ head, CQ tail) are read with
// Atomics.load, indexes we write (SQ tail, CQ head, buffer ring tail) are published with
// Atomics.store after the entries they cover are written.
import type { Koffi } from "./libc.js";
import { libc } from "./libc.js";

const SYS_io_uring_setup = 425;
const SYS_io_uring_enter = 426;
const SYS_io_uring_register = 427;

const IORING_SETUP_CQSIZE = 1 << 3;
const IORING_SETUP_CLAMP = 1 << 4;
const IORING_SETUP_SUBMIT_ALL = 1 << 7;
const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
const IORING_SETUP_DEFER_TASKRUN = 1 << 13;
const IORING_FEAT_SINGLE_MMAP = 1;
const IORING_ENTER_GETEVENTS = 1;
const IORING_ENTER_EXT_ARG = 1 << 3;
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_CQ_RING = 0x8000000;
const IORING_OFF_SQES = 0x10000000;
const IORING_REGISTER_PBUF_RING = 22;

const PROT_RW = 0x1 | 0x2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_POPULATE = 0x8000;

export const OP_ASYNC_CANCEL = 14;
export const OP_READ = 22;
export const OP_SEND = 26;
export const OP_RECV = 27;

export const SQE_IO_LINK = 1 << 2;
export const SQE_BUFFER_SELECT = 1 << 5;
export const SQE_CQE_SKIP_SUCCESS = 1 << 6;
/** In a completion's flags: the buffer id of a provided buffer is in the upper 16 bits. */
export const CQE_BUFFER_SHIFT = 16;
/** In the SQE's ioprio of a send or recv: arm the poll at once instead of trying first. */
export const RECVSEND_POLL_FIRST = 1;
export const ASYNC_CANCEL_ALL = 1 << 0;
export const ASYNC_CANCEL_FD = 1 << 1;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const ENOBUFS = 105;
export const ETIME = 62;

const SQE_SIZE = 64;
const CQE_SIZE = 16;
const PARAMS_SIZE = 120;
const BUF_ENTRY = 16;
const PAGE = 4096;

interface Calls {
  setup: (nr: number, entries: number, params: Buffer) => number;
  enter: (nr: number, fd: number, toSubmit: number, minComplete: number, flags: number, arg: Buffer | null, sz: number) => number;
  register: (nr: number, fd: number, op: number, arg: Buffer, n: number) => number;
  mmap: (addr: number, len: number, prot: number, flags: number, fd: number, off: number) => unknown;
  munmap: (addr: unknown, len: number) => number;
}

function bind(koffi: Koffi): Calls {
  const lib = koffi.load("libc.so.6");
  // syscall(2) is variadic; a fixed prototype per use passes the same registers on Linux's ABIs.
  return {
    setup: lib.func("long syscall(long nr, uint32_t entries, void *params)") as Calls["setup"],
    enter: lib.func("long syscall(long nr, int fd, uint32_t to_submit, uint32_t min_complete, uint32_t flags, void *arg, size_t sz)") as Calls["enter"],
    register: lib.func("long syscall(long nr, int fd, uint32_t op, void *arg, uint32_t n)") as Calls["register"],
    mmap: lib.func("void *mmap(intptr_t addr, size_t len, int prot, int flags, int fd, int64_t off)") as Calls["mmap"],
    munmap: lib.func("int munmap(void *addr, size_t len)") as Calls["munmap"],
  };
}

interface Mapping {
  ptr: unknown;
  len: number;
  buf: ArrayBuffer;
  addr: bigint;
}

/** An address as the two 32-bit halves an SQE stores (numbers, no BigInt on the hot path). */
export interface Addr {
  lo: number;
  hi: number;
}

export const splitAddr = (a: bigint): Addr => ({ lo: Number(a & 0xffffffffn), hi: Number(a >> 32n) });

export class IoUring {
  private readonly c = libc();
  private readonly calls = bind(this.c.koffi);
  readonly fd: number;
  private readonly maps: Mapping[] = [];
  private sqHead!: Uint32Array;
  private sqTail!: Uint32Array;
  private sqMask = 0;
  private sqEntries = 0;
  private sqes32!: Uint32Array;
  private sqes8!: Uint8Array;
  private sqes16!: Uint16Array;
  private cqHead!: Uint32Array;
  private cqTail!: Uint32Array;
  private cqMask = 0;
  private cqes32!: Int32Array;
  /** SQ tail as we have written it; published at each enter. */
  private tail = 0;
  private queued = 0;
  private readonly waitArg = Buffer.alloc(24);
  private readonly timespec = Buffer.alloc(16);
  private timespecAt = 0n;

  /** Throws when the kernel refuses (no io_uring, disabled by sysctl or seccomp, too old). */
  constructor(entries: number, cqEntries: number) {
    const p = Buffer.alloc(PARAMS_SIZE);
    // Completions are processed when the relay waits for them (DEFER_TASKRUN, kernel 6.1): a
    // socket's readiness then does not interrupt the thread mid-batch, and a burst is handled in one
    // pass.
    p.writeUInt32LE(cqEntries, 4);
    p.writeUInt32LE(IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, 8);
    const fd = this.calls.setup(SYS_io_uring_setup, entries, p);
    if (fd < 0) throw new Error(`io_uring_setup failed: errno ${this.c.errno()}`);
    this.fd = fd;
    try {
      this.mapRings(p);
    } catch (e) {
      this.close();
      throw e;
    }
    this.timespecAt = BigInt(this.c.koffi.address(this.timespec) as bigint);
  }

  private mapRings(p: Buffer): void {
    const sqEntries = p.readUInt32LE(0);
    const cqN = p.readUInt32LE(4);
    const sq = (o: number): number => p.readUInt32LE(40 + o);
    const cq = (o: number): number => p.readUInt32LE(80 + o);
    const sqLen = sq(24) + sqEntries * 4; // sq_off.array + its entries
    const cqLen = cq(20) + cqN * CQE_SIZE; // cq_off.cqes + its entries
    const single = (p.readUInt32LE(20) & IORING_FEAT_SINGLE_MMAP) !== 0;
    const sqMap = this.map(single ? Math.max(sqLen, cqLen) : sqLen, MAP_SHARED | MAP_POPULATE, this.fd, IORING_OFF_SQ_RING);
    const cqMap = single ? sqMap : this.map(cqLen, MAP_SHARED | MAP_POPULATE, this.fd, IORING_OFF_CQ_RING);
    const sqeMap = this.map(sqEntries * SQE_SIZE, MAP_SHARED | MAP_POPULATE, this.fd, IORING_OFF_SQES);
    this.sqHead = new Uint32Array(sqMap.buf, sq(0), 1);
    this.sqTail = new Uint32Array(sqMap.buf, sq(4), 1);
    this.sqMask = new Uint32Array(sqMap.buf, sq(8), 1)[0]!;
    this.sqEntries = sqEntries;
    // The index array maps ring slots to SQEs; fixed at slot i -> SQE i, it is written once.
    const array = new Uint32Array(sqMap.buf, sq(24), sqEntries);
    for (let i = 0; i < sqEntries; i++) array[i] = i;
    this.sqes32 = new Uint32Array(sqeMap.buf);
    this.sqes8 = new Uint8Array(sqeMap.buf);
    this.sqes16 = new Uint16Array(sqeMap.buf);
    this.cqHead = new Uint32Array(cqMap.buf, cq(0), 1);
    this.cqTail = new Uint32Array(cqMap.buf, cq(4), 1);
    this.cqMask = new Uint32Array(cqMap.buf, cq(8), 1)[0]!;
    this.cqes32 = new Int32Array(cqMap.buf, cq(20), cqN * (CQE_SIZE >> 2));
    this.tail = this.sqTail[0]!;
  }

  private map(len: number, flags: number, fd: number, off: number): Mapping {
    const ptr = this.calls.mmap(0, len, PROT_RW, flags, fd, off);
    const addr = BigInt(this.c.koffi.address(ptr) as bigint);
    if (addr === 0n || addr === 0xffffffffffffffffn || addr === -1n) throw new Error(`mmap of ${len} B failed: errno ${this.c.errno()}`);
    const m = { ptr, len, addr, buf: this.c.koffi.view(ptr, len) as ArrayBuffer };
    this.maps.push(m);
    return m;
  }

  /** Zeroed, page-aligned memory the kernel may read and write (buffer rings, buffers); freed by close(). */
  anon(len: number): { buf: ArrayBuffer; addr: bigint } {
    const m = this.map(Math.ceil(len / PAGE) * PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return { buf: m.buf, addr: m.addr };
  }

  /**
   * Queues one operation; false when the submission ring is full even after submitting what it
   * held. `token` (32 bits) comes back in the operation's completion.
   */
  sqe(op: number, sqeFlags: number, fd: number, addr: Addr | null, len: number, opFlags: number, token: number, ioprio = 0, bufGroup = 0): boolean {
    if (this.tail - Atomics.load(this.sqHead, 0) >= this.sqEntries && (this.flush() <= 0 || this.tail - Atomics.load(this.sqHead, 0) >= this.sqEntries)) return false;
    const i = (this.tail & this.sqMask) * (SQE_SIZE >> 2);
    this.sqes32.fill(0, i, i + (SQE_SIZE >> 2));
    const b = i << 2;
    this.sqes8[b] = op;
    this.sqes8[b + 1] = sqeFlags;
    this.sqes16[(b + 2) >> 1] = ioprio;
    this.sqes32[i + 1] = fd >>> 0;
    if (addr !== null) {
      this.sqes32[i + 4] = addr.lo;
      this.sqes32[i + 5] = addr.hi;
    }
    this.sqes32[i + 6] = len >>> 0;
    this.sqes32[i + 7] = opFlags >>> 0;
    this.sqes32[i + 8] = token >>> 0; // user_data, low half (the high half stays 0)
    this.sqes16[(b + 40) >> 1] = bufGroup;
    this.tail = (this.tail + 1) >>> 0;
    this.queued++;
    return true;
  }

  /** Submits what is queued without waiting; how many the kernel took (-1 and errno on failure). */
  flush(): number {
    return this.enter(0);
  }

  /**
   * Submits what is queued and, when `min` > 0, waits until at least `min` completions are ready
   * or `timeoutMs` passed (-1: no limit; a timeout answers -1 with errno ETIME). EINTR is normal.
   */
  enter(min: number, timeoutMs = -1): number {
    const n = this.queued;
    Atomics.store(this.sqTail, 0, this.tail);
    let flags = min > 0 ? IORING_ENTER_GETEVENTS : 0;
    let arg: Buffer | null = null;
    if (min > 0 && timeoutMs >= 0) {
      // struct io_uring_getevents_arg { sigmask, sigmask_sz, pad, ts }: only the timeout is set.
      this.timespec.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
      this.timespec.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1_000_000), 8);
      this.waitArg.writeBigUInt64LE(this.timespecAt, 16);
      flags |= IORING_ENTER_EXT_ARG;
      arg = this.waitArg;
    }
    const r = this.calls.enter(SYS_io_uring_enter, this.fd, n, min, flags, arg, arg === null ? 0 : arg.length);
    if (r >= 0) this.queued = n - Math.min(n, r);
    return r;
  }

  /** Calls `fn(token, res, flags)` for every completion ready, then frees their slots; how many. */
  reap(fn: (token: number, res: number, flags: number) => void): number {
    let head = this.cqHead[0]!;
    const tail = Atomics.load(this.cqTail, 0);
    const n = (tail - head) >>> 0;
    const cqes = this.cqes32;
    while (head !== tail) {
      const i = (head & this.cqMask) << 2;
      fn(cqes[i]! >>> 0, cqes[i + 2]!, cqes[i + 3]! >>> 0);
      head = (head + 1) >>> 0;
    }
    Atomics.store(this.cqHead, 0, head);
    return n;
  }

  /** Registers a provided-buffer ring (kernel 5.19+); -errno on failure. */
  registerBufRing(addr: bigint, entries: number, group: number): number {
    const reg = Buffer.alloc(40);
    reg.writeBigUInt64LE(addr, 0);
    reg.writeUInt32LE(entries, 8);
    reg.writeUInt16LE(group, 12);
    const r = this.calls.register(SYS_io_uring_register, this.fd, IORING_REGISTER_PBUF_RING, reg, 1);
    return r < 0 ? -this.c.errno() : r;
  }

  close(): void {
    for (const m of this.maps.splice(0)) this.calls.munmap(m.ptr, m.len);
    if (this.fd >= 0) this.c.close(this.fd);
  }
}

/**
 * Receive buffers the kernel picks from when data arrives (a recv with SQE_BUFFER_SELECT), so a
 * connection holds a buffer only while its bytes are on their way, not while it idles. A buffer
 * comes back into the ring with give() once its bytes are sent on.
 */
export class BufRing {
  readonly addr: Addr[] = [];
  private inRing = 0;
  private readonly entries32: Uint32Array;
  private readonly entries16: Uint16Array;
  private readonly mask: number;
  private tail = 0;

  constructor(
    ring: IoUring,
    readonly count: number,
    readonly size: number,
    readonly group: number,
  ) {
    if (count & (count - 1) || count > 32768) throw new Error(`buffer ring size must be a power of 2 up to 32768, got ${count}`);
    const entries = ring.anon(count * BUF_ENTRY);
    this.entries32 = new Uint32Array(entries.buf);
    this.entries16 = new Uint16Array(entries.buf);
    this.mask = count - 1;
    const r = ring.registerBufRing(entries.addr, count, group);
    if (r < 0) throw new Error(`io_uring buffer ring registration failed: errno ${-r}`);
    const mem = ring.anon(count * size);
    for (let bid = 0; bid < count; bid++) this.addr.push(splitAddr(mem.addr + BigInt(bid * size)));
    for (let bid = 0; bid < count; bid++) this.give(bid);
  }

  /** Puts buffer `bid` back for the kernel to fill. */
  give(bid: number): void {
    const e = (this.tail & this.mask) * (BUF_ENTRY >> 2);
    const a = this.addr[bid]!;
    this.entries32[e] = a.lo;
    this.entries32[e + 1] = a.hi;
    this.entries32[e + 2] = this.size;
    // bid at byte 12; bytes 14-15 of entry 0 are the ring's tail, so they are never written here.
    this.entries16[e * 2 + 6] = bid;
    this.tail = (this.tail + 1) & 0xffff;
    Atomics.store(this.entries16, 7, this.tail);
    this.inRing++;
  }

  /** Notes that the kernel took a buffer (a recv completed into one). */
  took(): void {
    this.inRing--;
  }

  /** Buffers in the ring, for the kernel to take. */
  get available(): number {
    return this.inRing;
  }
}
