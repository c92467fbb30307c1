// Worker side of rate limiting: fixed windows counted by one authority (the control process, which
// also fronts Redis for global rules) that hands out leases of requests. A worker spends a lease
// locally, without I/O, and asks for more when it is used up; the authority never grants more than
// the limit per window in total, so however many workers (or gateways, with Redis) serve a
// counter, no more than the limit passes. Leases are small (a twentieth of the limit, at most 100)
// so that near the limit few requests sit unused in another worker's lease.
import { type AcquireMessage, type GrantMessage, isGrant } from "./messages.js";

export interface LimitSpec {
  limit: number;
  windowMs: number;
  global: boolean;
  failClosed: boolean;
}

interface Lease {
  window: number;
  windowMs: number;
  tokens: number;
  /** The authority granted fewer than asked: nothing is left in this window (until `spentUntil`). */
  spent: boolean;
  /**
   * Global counters are asked again after this time even when spent: the answer may change when
   * Redis becomes unreachable (fail open) or comes back. Local counts never go down in a window.
   */
  spentUntil: number;
  waiters: ((ok: boolean) => void)[] | null;
  asking: boolean;
}

const ANSWER_TIMEOUT_MS = 2000;
const GLOBAL_RECHECK_MS = 1000;

export interface Authority {
  acquire(m: Omit<AcquireMessage, "type" | "id">): Promise<number>;
}

/** Asks the control process over IPC. */
class IpcAuthority implements Authority {
  private nextId = 1;
  private readonly pending = new Map<number, (granted: number) => void>();

  constructor(private readonly send: (m: AcquireMessage) => void) {
    process.on("message", (m: unknown) => {
      if (!isGrant(m)) return;
      const done = this.pending.get((m as GrantMessage).id);
      this.pending.delete(m.id);
      done?.(m.granted);
    });
  }

  acquire(m: Omit<AcquireMessage, "type" | "id">): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      // A control process that does not answer must not hold requests forever: decide as for an
      // unreachable counter store.
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) resolve(m.failClosed ? 0 : m.want);
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, (granted) => {
        clearTimeout(timer);
        resolve(granted);
      });
      try {
        this.send({ type: "rl-acquire", id, ...m });
      } catch {
        this.pending.delete(id);
        resolve(m.failClosed ? 0 : m.want);
      }
    });
  }
}

/** Counts in this process: the authority when there is no control process (in-process tests). */
export class LocalAuthority implements Authority {
  private readonly counts = new Map<string, { window: number; n: number }>();

  acquire(m: Omit<AcquireMessage, "type" | "id">): Promise<number> {
    return Promise.resolve(this.grant(m.key, m.window, m.limit, m.want));
  }

  grant(key: string, window: number, limit: number, want: number): number {
    let c = this.counts.get(key);
    if (c === undefined || c.window !== window) {
      // Old windows are dropped as keys come back; a sweep bounds keys that never do.
      if (this.counts.size > 100_000) this.sweep(window);
      this.counts.set(key, (c = { window, n: 0 }));
    }
    const g = Math.max(0, Math.min(want, limit - c.n));
    c.n += g;
    return g;
  }

  private sweep(window: number): void {
    for (const [k, v] of this.counts) if (v.window < window) this.counts.delete(k);
  }
}

export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly authority: Authority) {}

  /** true/false when a lease decides at once; a promise when the authority must be asked. */
  take(key: string, spec: LimitSpec, now = Date.now()): boolean | Promise<boolean> {
    const window = Math.floor(now / spec.windowMs);
    let l = this.leases.get(key);
    if (l === undefined || l.window !== window) {
      if (l === undefined && this.leases.size > 100_000) this.sweep(now);
      l = { window, windowMs: spec.windowMs, tokens: 0, spent: false, spentUntil: Infinity, waiters: null, asking: false };
      this.leases.set(key, l);
    }
    if (l.tokens > 0) {
      l.tokens--;
      return true;
    }
    if (spec.limit === 0) return false;
    if (l.spent) {
      if (now < l.spentUntil) return false;
      l.spent = false;
    }
    const lease = l;
    return new Promise<boolean>((resolve) => {
      (lease.waiters ??= []).push(resolve);
      if (!lease.asking) this.ask(key, lease, spec);
    });
  }

  private ask(key: string, l: Lease, spec: LimitSpec): void {
    l.asking = true;
    const batch = Math.max(1, Math.min(100, Math.floor(spec.limit / 20)));
    const want = Math.max(batch, l.waiters?.length ?? 1);
    void this.authority.acquire({ key, window: l.window, windowMs: spec.windowMs, limit: spec.limit, want, global: spec.global, failClosed: spec.failClosed }).then((granted) => {
      l.asking = false;
      l.tokens += granted;
      if (granted < want) {
        l.spent = true;
        l.spentUntil = spec.global ? Date.now() + GLOBAL_RECHECK_MS : Infinity;
      }
      const waiters = l.waiters ?? [];
      l.waiters = null;
      let i = 0;
      for (; i < waiters.length && l.tokens > 0; i++) {
        l.tokens--;
        waiters[i]!(true);
      }
      if (i < waiters.length) {
        if (l.spent) for (; i < waiters.length; i++) waiters[i]!(false);
        else {
          l.waiters = waiters.slice(i);
          this.ask(key, l, spec);
        }
      }
    });
  }

  /** Seconds until the window of `spec` that contains `now` ends (at least 1). */
  static secondsLeft(spec: LimitSpec, now = Date.now()): number {
    const end = (Math.floor(now / spec.windowMs) + 1) * spec.windowMs;
    return Math.max(1, Math.ceil((end - now) / 1000));
  }

  private sweep(now: number): void {
    for (const [k, l] of this.leases) if (l.waiters === null && !l.asking && Math.floor(now / l.windowMs) > l.window) this.leases.delete(k);
  }
}

let shared: LeaseTable | null = null;

/** The worker's lease table: over IPC in a worker process, in-process counting otherwise. */
export function workerLeases(): LeaseTable {
  if (shared) return shared;
  const send = process.send?.bind(process);
  shared = new LeaseTable(send ? new IpcAuthority((m) => void send(m)) : new LocalAuthority());
  return shared;
}
