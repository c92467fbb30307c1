// Circuit breaker of one cluster in one worker process (BackendTrafficPolicy circuitBreaker).
// Counts are per worker: with N workers a backend may see up to N x each limit (counting across
// workers would cost an IPC round trip per request). Without a policy every limit is off, only the
// default retry budget applies: nothing here caps a normal production load.
//
//   maxParallelRequests  attempts in flight plus those waiting; one more is answered 503 at once.
//   maxConnections       HTTP/1.1 sends one request per connection, so at most this many attempts
//                        are in flight to the cluster; more wait in a FIFO queue for one to end.
//                        (HTTP/2 clusters use one connection per endpoint: nothing to wait for.)
//   maxPendingRequests   length of that queue; one more is answered 503 at once.
//   maxParallelRetries, retryBudget   see retry-budget.ts.
// Overflow answers carry `x-sluice-overflow: circuit-breaker` and are counted in
// sluice_upstream_overflow_total{route,backend,limit}; so are requests that had to wait for a
// connection (limit="max_connections") and retries refused by a retry limit.
import type { IrCircuitBreaker, IrCluster } from "../../ir/types.js";
import { BatchedCounter, type Pending } from "../../observe/proxy-metrics.js";
import { RetryBudget } from "./retry-budget.js";

export const LIMIT_PARALLEL_REQUESTS = "max_parallel_requests";
export const LIMIT_PENDING_REQUESTS = "max_pending_requests";
export const LIMIT_CONNECTIONS = "max_connections";

/** acquire(): the caller may send now. */
export const SLOT_GO = 0;
/** acquire(): the caller waits; its onSlot() is called when a connection frees up. */
export const SLOT_QUEUED = 1;
/** acquire(): refused (see `refused` for the limit). */
export const SLOT_OVERFLOW = 2;

export interface SlotWaiter {
  /** Called (from a microtask) once a slot is held for the waiter. */
  onSlot(): void;
}

export class Breaker {
  /** Attempts holding a slot (dispatched and not yet ended). */
  active = 0;
  /** Requests in progress to the cluster (from the first attempt to the response's end). */
  requests = 0;
  /** The limit behind the last SLOT_OVERFLOW, and its value (for the answer's body). */
  refused = "";
  refusedAt = 0;
  readonly retries: RetryBudget;
  private readonly maxRequests: number;
  private readonly maxConnections: number;
  private readonly maxPending: number;
  private readonly queue: (SlotWaiter | null)[] = [];
  private head = 0;
  private pendingCount = 0;

  constructor(ir: IrCircuitBreaker | undefined, http1: boolean) {
    this.maxRequests = ir?.maxParallelRequests ?? Infinity;
    // Only HTTP/1.1 holds a connection per request.
    this.maxConnections = http1 ? (ir?.maxConnections ?? Infinity) : Infinity;
    this.maxPending = ir?.maxPendingRequests ?? Infinity;
    this.retries = new RetryBudget(ir?.retryBudgetPercent, ir?.retryBudgetMinConcurrency, ir?.maxParallelRetries ?? Infinity);
  }

  get pending(): number {
    return this.pendingCount;
  }

  /** Asks for a slot for one attempt. SLOT_QUEUED keeps `w` until onSlot() or cancel(w). */
  acquire(w: SlotWaiter): number {
    if (this.active + this.pendingCount >= this.maxRequests) return this.refuse(LIMIT_PARALLEL_REQUESTS, this.maxRequests);
    if (this.active < this.maxConnections) {
      this.active++;
      return SLOT_GO;
    }
    if (this.pendingCount >= this.maxPending) return this.refuse(LIMIT_PENDING_REQUESTS, this.maxPending);
    this.queue.push(w);
    this.pendingCount++;
    return SLOT_QUEUED;
  }

  private refuse(limit: string, value: number): number {
    this.refused = limit;
    this.refusedAt = value;
    return SLOT_OVERFLOW;
  }

  /** Gives a slot back; the oldest waiter (if any) gets it. */
  release(): void {
    while (this.pendingCount > 0 && this.head < this.queue.length) {
      const w = this.queue[this.head];
      this.queue[this.head++] = null;
      if (w === null || w === undefined) continue;
      this.pendingCount--;
      this.compact();
      // The slot passes to the waiter as is (active unchanged); started off this call stack so a
      // finishing response never runs another request's dispatch inside its own callbacks.
      queueMicrotask(() => w.onSlot());
      return;
    }
    this.compact();
    if (this.active > 0) this.active--;
  }

  /** A waiter gives up (request timeout, client gone). */
  cancel(w: SlotWaiter): void {
    const i = this.queue.indexOf(w, this.head);
    if (i < 0) return;
    this.queue[i] = null;
    this.pendingCount--;
    this.compact();
  }

  private compact(): void {
    if (this.pendingCount === 0) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

let overflowCounter: BatchedCounter | null = null;
const overflowChildren = new Map<string, Pending>();

/** Counts one overflow of `limit` for a route and backend. Overflows are rare: a map lookup is fine. */
export function countOverflow(route: string, backend: string, limit: string): void {
  const key = `${route}\u0000${backend}\u0000${limit}`;
  let p = overflowChildren.get(key);
  if (p === undefined) {
    overflowCounter ??= new BatchedCounter("sluice_upstream_overflow_total", "Requests refused, queued or not retried because of a circuit breaker or retry limit.", ["route", "backend", "limit"]);
    p = overflowCounter.pending({ route, backend, limit });
    overflowChildren.set(key, p);
  }
  p.inc();
}

/** Breakers by cluster runtime: a runtime kept across snapshots keeps its counts. */
const breakers = new WeakMap<object, Breaker>();

/** Gives a newly built cluster runtime the breaker of its IR. */
export function attachBreaker(cluster: object, ir: Pick<IrCluster, "circuitBreaker" | "protocol">): Breaker {
  const b = new Breaker(ir.circuitBreaker, ir.protocol !== "h2c");
  breakers.set(cluster, b);
  return b;
}

/** The cluster's breaker (one without limits when none was attached). */
export function breakerOf(cluster: { protocol: string }): Breaker {
  let b = breakers.get(cluster);
  if (b === undefined) {
    b = new Breaker(undefined, cluster.protocol !== "h2c");
    breakers.set(cluster, b);
  }
  return b;
}
