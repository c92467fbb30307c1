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
