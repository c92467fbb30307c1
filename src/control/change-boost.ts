// Route changes in the real-time scheduling class. Under load every core is busy, and the kernel
// shares each core between process groups (sessions, cgroups) before it looks at nice values: the
// gateway's threads wait behind the load generator, the origin or any other service on that core,
// and the control process's nice -5 only puts it ahead of its own workers. A change needs a few
// milliseconds of CPU, but traced under load it waited for its turn, in one change 12.3 ms at a
// stretch, in the control process and in the workers alike (bench/RESULTS.md, session 13). So, for the length of one
// change, its threads run in SCHED_RR at the lowest real-time priority:
// - the control process's main thread, from the first watch event until every worker serves the
//   result (or the provider found nothing new);
// - each worker's main thread, from the moment the change (a delta or a whole snapshot) is sent to
//   it until it has reported the apply: the worker leaves the class itself, right after its report
//   (src/proxy/worker-main.ts).
// Nothing stays real-time longer than BOOST_LIMIT_MS, and the kernel's real-time throttling keeps
// 5% of every core for normal threads in any case. Without the privilege (CAP_SYS_NICE) it says so
// once and changes keep the normal class.
import { performance } from "node:perf_hooks";
import type { Logger } from "../observe/log.js";
import type { SetRealtime } from "../sys/realtime.js";

/** Longest a thread stays real-time for one change (a change takes milliseconds; this is a guard). */
export const BOOST_LIMIT_MS = 1000;

export interface ChangeBoostOptions {
  enabled: boolean;
  set: SetRealtime;
  /** True when no live worker is still applying the current snapshot. */
  workersSettled: () => boolean;
  log: Logger;
  /** Default BOOST_LIMIT_MS. */
  limitMs?: number;
}

export class ChangeBoost {
  private enabled: boolean;
  private readonly limitMs: number;
  /** The control thread is real-time. */
  private active = false;
  /** The provider is between a watch event and the end of the reloads it caused. */
  private reading = false;
  private limit: NodeJS.Timeout | null = null;
  private enteredAt = 0;
  private leaving = false;
  /** Workers boosted since the control thread entered. */
  private boosted = 0;
  /** Worker pids sent a change in the real-time class, with their guard timers. */
  private readonly workers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly opts: ChangeBoostOptions) {
    this.enabled = opts.enabled;
    this.limitMs = opts.limitMs ?? BOOST_LIMIT_MS;
  }

  /** The provider's busy signal (FileProviderOptions.onBusy). */
  providerBusy(busy: boolean): void {
    this.reading = busy;
    if (busy) this.enter();
    else this.settle();
  }

  /**
   * A worker's state changed (an apply reported, a worker exited). Settled, the thread leaves after
   * this turn of the event loop: the answers to GET /ready?after=N&wait (promise callbacks) go out
   * first, still in the real-time class.
   */
  workersChanged(): void {
    if (!this.active || this.leaving) return;
    this.leaving = true;
    setImmediate(() => {
      this.leaving = false;
      this.settle();
    });
  }

  /**
   * Called just before a change goes to worker `pid`. True if that worker now runs real-time: the
   * message then tells it to leave the class once it has reported.
   */
  boostWorker(pid: number): boolean {
    if (!this.active || this.workers.has(pid)) return false;
    if (!this.apply(pid, true)) return false;
    const guard = setTimeout(() => this.workerDone(pid), this.limitMs);
    guard.unref();
    this.workers.set(pid, guard);
    this.boosted++;
    return true;
  }

  /** Worker `pid` reported (it left the class itself) or exited; after the guard time it is put back here. */
  workerDone(pid: number): void {
    const guard = this.workers.get(pid);
    if (guard === undefined) return;
    clearTimeout(guard);
    this.workers.delete(pid);
    // A worker that reported has left already (leaving twice is harmless); one that went quiet is
    // put back; one that exited is gone (ESRCH, ignored).
    this.opts.set(pid, false);
  }

  /** Everything back to the normal class (the gateway stops). */
  stop(): void {
    for (const pid of [...this.workers.keys()]) this.workerDone(pid);
    this.leave();
    this.reading = false;
  }

  private enter(): void {
    if (this.active || !this.enabled) return;
    if (!this.apply(0, true)) return;
    this.active = true;
    this.enteredAt = performance.now();
    this.boosted = 0;
    this.limit = setTimeout(() => this.leave(), this.limitMs);
    this.limit.unref();
  }

  private settle(): void {
    if (this.active && !this.reading && this.opts.workersSettled()) this.leave();
  }

  private leave(): void {
    if (!this.active) return;
    this.active = false;
    if (this.limit) clearTimeout(this.limit);
    this.limit = null;
    this.opts.set(0, false);
    this.opts.log.debug({ ms: Math.round((performance.now() - this.enteredAt) * 10) / 10, workers: this.boosted }, "route change: back to the normal scheduling class");
  }

  /** Sets a thread's class; the first refusal to enter turns the boost off, with one log line. */
  private apply(tid: number, on: boolean): boolean {
    const problem = this.opts.set(tid, on);
    if (problem === null) return true;
    if (on && tid === 0) {
      this.enabled = false;
      this.opts.log.info({ problem }, "route changes run in the normal scheduling class: the real-time class was refused (it needs CAP_SYS_NICE)");
    }
    return false;
  }
}
