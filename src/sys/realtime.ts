// A thread in and out of the real-time scheduling class. Route changes use it for the few
// milliseconds they take (src/control/change-boost.ts): in the normal class a thread of the gateway
// shares a busy core with every other process group there, and a traced change waited 12.3 ms at
// a stretch for its turn (bench/RESULTS.md, session 13).
import { errnoName, libc } from "./libc.js";

const SCHED_OTHER = 0;
const SCHED_RR = 2;
/** The lowest real-time priority: above every normal thread, below any real-time one. */
const RT_PRIORITY = 1;

const params = { on: Buffer.alloc(4), off: Buffer.alloc(4) };
params.on.writeInt32LE(RT_PRIORITY, 0);

/** Sets a thread's class; null, or why not. */
export type SetRealtime = (tid: number, on: boolean) => string | null;

/**
 * Puts thread `tid` (0: the calling one; a process id: that process's main thread) in SCHED_RR at
 * priority 1, or back in SCHED_OTHER, whose nice value it kept meanwhile. Leaving needs no privilege;
 * entering needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of 1). Returns null, or why it could not.
 */
export const setRealtime: SetRealtime = (tid, on) => {
  let c;
  try {
    c = libc();
  } catch (e) {
    return (e as Error).message;
  }
  if (c.sched_setscheduler(tid, on ? SCHED_RR : SCHED_OTHER, on ? params.on : params.off) === 0) return null;
  return `sched_setscheduler: ${errnoName(c.errno())}`;
};
