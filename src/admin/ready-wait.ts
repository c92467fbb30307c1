// GET /ready?after=N&wait=MS: the answer waits (up to MS) until the gateway is ready on a version
// later than N, so a deploy step (or a benchmark) learns that its change is served the moment the
// last worker acknowledges it, without polling. Without `wait` /ready answers at once, as before.
import type { ReadyView } from "./server.js";

/** Longest wait a request may ask for. */
export const MAX_READY_WAIT_MS = 60_000;

/** Told whenever what /ready would answer may have changed (a new snapshot, a worker's report). */
export class ReadyChanges {
  private readonly listeners = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  notify(): void {
    for (const fn of [...this.listeners]) fn();
  }
}

export interface ReadyWait {
  after: number;
  ms: number;
}

/** The wait a /ready query asks for: null for none, a string saying what is wrong with it. */
export function readyWaitOf(params: URLSearchParams): ReadyWait | null | string {
  const wait = params.get("wait");
  if (wait === null) return null;
  const ms = Number(wait);
  const after = Number(params.get("after") ?? "0");
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_READY_WAIT_MS) return `wait must be a whole number of milliseconds from 0 to ${MAX_READY_WAIT_MS}`;
  if (!Number.isInteger(after) || after < 0) return "after must be a version number (a whole number, 0 or more)";
  return { after, ms };
}

/**
 * The readiness once it is ready on a version later than `w.after`, or as it is when `w.ms` has
 * passed or `abort` is called (the client went away); checked again at every change.
 */
export function waitReady(read: () => ReadyView, changes: ReadyChanges, w: ReadyWait, onAbort: (abort: () => void) => void): Promise<ReadyView> {
  const served = (r: ReadyView): boolean => r.ready && r.version > w.after;
  const now = read();
  if (served(now) || w.ms === 0) return Promise.resolve(now);
  return new Promise((resolve) => {
    let finished = false;
    const finish = (r: ReadyView): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsubscribe();
      resolve(r);
    };
    const unsubscribe = changes.subscribe(() => {
      const r = read();
      if (served(r)) finish(r);
    });
    const timer = setTimeout(() => finish(read()), w.ms);
    onAbort(() => finish(read()));
  });
}
