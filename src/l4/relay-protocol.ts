// What the main thread and a relay thread (splice-worker.ts, uring-worker.ts) agree on: the
// control records the main thread writes into the thread's control pipe, the thread's start data,
// and its reports.

export const OP_ADD = 1;
export const OP_ABORT = 2;
export const OP_STOP = 3;
/** One control record: op, pair id, two fds (int32 each). Below PIPE_BUF: written whole or not at all. */
export const RECORD = 16;

export interface RelayWorkerData {
  /** Read end of the control pipe (the thread owns and closes it). */
  ctlFd: number;
  /** Capacity asked for each pipe (F_SETPIPE_SZ; the splice(2) thread); 0 keeps the kernel default. */
  pipeSize: number;
}

/** Finished pairs as the thread reports them, flat: id, bytes up, bytes down, errno (repeated). */
export type RelayWorkerReport = number[];

/** What a relay thread does on the records it reads. */
export interface RelayControl {
  add(id: number, clientFd: number, backendFd: number): void;
  abort(id: number): void;
}

/** Applies the whole records in `buf[0, n)` in order; true when one of them says stop (the rest are left). */
export function applyRecords(buf: Buffer, n: number, to: RelayControl): boolean {
  for (let o = 0; o + RECORD <= n; o += RECORD) {
    const op = buf.readInt32LE(o);
    const id = buf.readInt32LE(o + 4);
    if (op === OP_ADD) to.add(id, buf.readInt32LE(o + 8), buf.readInt32LE(o + 12));
    else if (op === OP_ABORT) to.abort(id);
    else if (op === OP_STOP) return true;
  }
  return false;
}
