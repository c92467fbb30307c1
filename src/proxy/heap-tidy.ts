// After a large snapshot apply (thousands of routes parsed from one IPC message and compiled) a
// worker holds MiBs of garbage and a young generation grown to 16-32 MiB. V8's memory reducer gives
// them back only if it happens to run (seen: after 10 s, or not within 40 s), so an idle worker's
// resident memory reflected the last big apply rather than what it keeps. Two full GCs a second
// apart, a few seconds after the apply, return it: V8 shrinks the young generation only when the
// allocation rate between collections is low, which the first one (after the burst has aged out of
// V8's 5 s window) sets up for the second. Skipped while the worker is busy: load regrows the young
// generation anyway, and a forced GC would pause requests.
//
// A full GC also makes V8 drop optimised code (its embedded maps and closures die with the
// garbage), so the next requests run unoptimised while it recompiles on background threads that
// share the worker's core: measured, the first 8 s run after a tidy had a p99 of ~10 ms against
// ~3-5 ms without it (bench/hot-path.ts, 20 B -c64). After a small whole snapshot (a start with
// few routes) there is little to give back, so it is collected only if no traffic came meanwhile.
import { performance, type EventLoopUtilization } from "node:perf_hooks";

type Collect = () => void;

/** Event loop utilisation of a worker no request reached (timers and IPC only). */
const IDLE = 0.01;

/** V8's full, synchronous gc(): workers are started with --expose-gc (src/control/worker-pool.ts); null without it. */
export function fullGc(): Collect | null {
  const f: unknown = (globalThis as { gc?: unknown }).gc;
  return typeof f === "function" ? (f as Collect) : null;
}

export interface HeapTidyOptions {
  /** Wait after the last large apply; V8 looks at the last 5 s of allocation when deciding to shrink. */
  delayMs?: number;
  /** Event loop utilisation over the wait above which the worker counts as busy. */
  busy?: number;
  /** Busy checks before giving up until the next large apply. */
  tries?: number;
  /** Collections per tidy, and the wait between them. */
  passes?: number;
  gapMs?: number;
  collect?: Collect | null;
}

export class HeapTidy {
  private timer: NodeJS.Timeout | null = null;
  private tries = 0;
  private since: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly delayMs: number;
  private readonly busy: number;
  private readonly maxTries: number;
  private readonly collect: Collect | null;
  private readonly passes: number;
  private readonly gapMs: number;
  private left = 0;
  private untilTraffic = false;
  /** Collections run (for tests). */
  runs = 0;

  constructor(opts: HeapTidyOptions = {}) {
    this.delayMs = opts.delayMs ?? 6_000;
    this.busy = opts.busy ?? 0.25;
    this.maxTries = opts.tries ?? 5;
    this.collect = opts.collect === undefined ? fullGc() : opts.collect;
    this.passes = opts.passes ?? 2;
    this.gapMs = opts.gapMs ?? 1_000;
  }

  /**
   * An apply that left garbage finished: collect once the worker has been idle for a while.
   * `untilTraffic` (small whole snapshots): collect only if the worker stayed idle (utilisation at
   * most 1%) through the first wait, and give up otherwise.
   */
  schedule(untilTraffic = false): void {
    if (this.collect === null) return;
    this.tries = 0;
    this.left = this.passes;
    this.untilTraffic = untilTraffic;
    this.arm(this.delayMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.stop();
    this.since = performance.eventLoopUtilization();
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    const used = performance.eventLoopUtilization(this.since).utilization;
    if (this.untilTraffic && this.left === this.passes && used > IDLE) return;
    if (used > this.busy) {
      if (++this.tries < this.maxTries) this.arm(this.delayMs);
      return;
    }
    this.runs++;
    this.collect?.();
    if (--this.left > 0) this.arm(this.gapMs);
  }
}
