// After a large snapshot apply (thousands of routes parsed from one IPC message and compiled) a
// worker holds tens of MiB of garbage and a young generation grown to its maximum. V8's memory
// reducer gives them back only if it happens to run (seen: after 10 s, or not within 40 s), so an
// idle worker's resident memory reflected the last big apply rather than what it keeps. One full
// GC a few seconds later, once the burst no longer counts as recent allocation (V8 then shrinks the
// young generation too), returns it. Skipped while the worker is busy: load regrows the young
// generation anyway, and a forced GC would pause requests.
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = () => void;
/** V8's gc(): a full, synchronous collection without options. */
type V8Gc = (opts?: { type: "minor" }) => void;

let collector: Collect | null | undefined;

/** V8's gc(), obtained without starting node with --expose-gc (a new context gets it); null if unavailable. */
export function fullGc(): Collect | null {
  if (collector === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const f: unknown = runInNewContext("gc");
      if (typeof f === "function") {
        const gc = f as V8Gc;
        // The young collection first: it samples the (now low) allocation rate, without which the
        // full one did not always shrink the young generation.
        collector = () => {
          gc({ type: "minor" });
          gc();
        };
      } else collector = null;
    } catch {
      collector = null;
    }
  }
  return collector;
}

export interface HeapTidyOptions {
  /** Wait after the last large apply; V8 looks at the last 5 s of allocation when deciding to shrink. */
  delayMs?: number;
  /** Event loop utilisation over the wait above which the worker counts as busy. */
  busy?: number;
  /** Busy checks before giving up until the next large apply. */
  tries?: number;
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
  /** Collections run (for tests). */
  runs = 0;

  constructor(opts: HeapTidyOptions = {}) {
    this.delayMs = opts.delayMs ?? 6_000;
    this.busy = opts.busy ?? 0.25;
    this.maxTries = opts.tries ?? 5;
    this.collect = opts.collect === undefined ? fullGc() : opts.collect;
  }

  /** A large apply finished: collect once the worker has been idle for a while. */
  schedule(): void {
    if (this.collect === null) return;
    this.tries = 0;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.stop();
    this.since = performance.eventLoopUtilization();
    this.timer = setTimeout(() => this.run(), this.delayMs);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    if (performance.eventLoopUtilization(this.since).utilization > this.busy) {
      if (++this.tries < this.maxTries) this.arm();
      return;
    }
    this.runs++;
    this.collect?.();
  }
}
