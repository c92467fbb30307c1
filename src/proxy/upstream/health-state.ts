// Health of a cluster's endpoints, kept across snapshots: a snapshot that leaves an endpoint (and
// the health check settings) unchanged keeps its active-check state, its outlier counters and
// ejections, and its slow-start ramp. Each worker process keeps its own (and probes on its own).
// Cluster runtimes compare `epoch` on every pick and rebuild their picker when it moved.
import type { IrHealthCheck } from "../../ir/types.js";
import { childLog } from "../../observe/log.js";
import { ActiveChecker } from "./health-active.js";
import { countOutcome, ejectionMs, mayEject, newCounters, type OutlierCounters } from "./health-outlier.js";
import type { ProbeTarget } from "./health-probe.js";

export interface EndpointIdentity {
  readonly key: string;
  readonly label: string;
  readonly host: string | null;
  readonly port: number;
  readonly socketPath: string | null;
  readonly protocol: "http1" | "h2c";
  readonly tls: { options: import("node:tls").ConnectionOptions } | null;
}

export class EndpointHealth {
  readonly counters: OutlierCounters = newCounters();
  checker: ActiveChecker | null = null;
  ejectReason = "";
  /** performance.now() when the endpoint (re)joined; -Infinity: from the start, no ramp. */
  rampStart = Number.NEGATIVE_INFINITY;
  constructor(
    readonly key: string,
    readonly label: string,
  ) {}

  get activeDown(): boolean {
    return this.checker !== null && !this.checker.healthy;
  }

  get usable(): boolean {
    return this.counters.ejectedUntil === 0 && (this.checker === null || this.checker.healthy);
  }
}

function targetOf(ep: EndpointIdentity): ProbeTarget {
  return { host: ep.host, port: ep.port, socketPath: ep.socketPath, tls: ep.tls?.options ?? null, protocol: ep.protocol, label: ep.label };
}

export class ClusterHealth {
  /** Bumped on every change a picker must see (health, ejection, a slow-start step). */
  epoch = 0;
  private readonly eps = new Map<string, EndpointHealth>();
  private synced = false;
  private review: NodeJS.Timeout | null = null;
  private ramp: NodeJS.Timeout | null = null;
  private rampMs = 0;
  private closed = false;

  constructor(
    readonly key: string,
    readonly name: string,
    private readonly hc: IrHealthCheck | undefined,
  ) {}

  /** The health entries of a cluster runtime's endpoints (same order); starts checks for new ones. */
  sync(endpoints: readonly EndpointIdentity[], slowStartMs: number | undefined): EndpointHealth[] {
    const now = performance.now();
    const out: EndpointHealth[] = [];
    const seen = new Set<string>();
    for (const ep of endpoints) {
      let h = this.eps.get(ep.key);
      if (h === undefined) {
        const entry = new EndpointHealth(ep.key, ep.label);
        // An endpoint added to a cluster already serving ramps up; the first endpoints do not.
        if (this.synced) entry.rampStart = now;
        const active = this.hc?.active;
        if (active !== undefined) entry.checker = new ActiveChecker(active, targetOf(ep), (ok) => this.onActive(entry, ok));
        this.eps.set(ep.key, entry);
        h = entry;
      }
      seen.add(ep.key);
      out.push(h);
    }
    // Endpoints that left the cluster are no longer probed (an older runtime still draining keeps
    // its entries, frozen).
    if (this.synced) {
      for (const [k, h] of this.eps) {
        if (seen.has(k)) continue;
        h.checker?.close();
        this.eps.delete(k);
      }
    }
    this.synced = true;
    if (slowStartMs !== undefined && slowStartMs > 0) {
      this.rampMs = slowStartMs;
      this.startRamp();
    }
    return out;
  }

  private onActive(h: EndpointHealth, ok: boolean): void {
    if (this.closed) return;
    if (ok) h.rampStart = performance.now();
    if (ok) childLog("health").info({ cluster: this.name, endpoint: h.label }, "endpoint healthy again (active check)");
    else childLog("health").warn({ cluster: this.name, endpoint: h.label, reason: h.checker?.reason }, "endpoint unhealthy (active check)");
    this.epoch++;
    if (ok) this.startRamp();
  }

  /** An attempt's outcome (an HTTP status, or OUTCOME_* for a local failure), for outlier detection. */
  record(h: EndpointHealth, outcome: number): void {
    const cfg = this.hc?.passive;
    if (cfg === undefined || this.closed) return;
    const c = h.counters;
    if (c.ejectedUntil !== 0) return; // already out; requests that were in flight do not count
    const why = countOutcome(cfg, c, outcome);
    if (why === null) return;
    let ejected = 0;
    for (const e of this.eps.values()) if (e.counters.ejectedUntil !== 0) ejected++;
    if (!mayEject(cfg, ejected, this.eps.size)) return;
    c.ejections++;
    c.ejectedUntil = performance.now() + ejectionMs(cfg, c.ejections);
    c.c5xx = c.cGateway = c.cLocal = 0;
    h.ejectReason = why;
    childLog("health").warn({ cluster: this.name, endpoint: h.label, reason: why, ejectionMs: ejectionMs(cfg, c.ejections) }, "endpoint ejected (outlier detection)");
    this.epoch++;
    this.startReview();
  }

  private startReview(): void {
    const cfg = this.hc?.passive;
    if (this.review !== null || cfg === undefined || this.closed) return;
    this.review = setInterval(() => this.reviewNow(), cfg.intervalMs);
    this.review.unref();
  }

  /** Ends due ejections; endpoints that stayed in for an interval lose one step of multiplier. */
  private reviewNow(): void {
    const now = performance.now();
    let busy = false;
    for (const h of this.eps.values()) {
      const c = h.counters;
      if (c.ejectedUntil !== 0) {
        if (now >= c.ejectedUntil) {
          c.ejectedUntil = 0;
          h.rampStart = now;
          this.epoch++;
          this.startRamp();
        }
        busy = true;
      } else if (c.ejections > 0) {
        c.ejections--;
        busy = true;
      }
    }
    if (!busy && this.review !== null) {
      clearInterval(this.review);
      this.review = null;
    }
  }

  /** While some endpoint is within its slow-start window, nudge pickers to recompute weights. */
  private startRamp(): void {
    if (this.ramp !== null || this.rampMs <= 0 || this.closed) return;
    const step = Math.max(50, Math.min(1000, Math.floor(this.rampMs / 20)));
    this.ramp = setInterval(() => {
      this.epoch++;
      const now = performance.now();
      let ramping = false;
      for (const h of this.eps.values()) if (now - h.rampStart < this.rampMs) ramping = true;
      if (!ramping && this.ramp !== null) {
        clearInterval(this.ramp);
        this.ramp = null;
      }
    }, step);
    this.ramp.unref();
  }

  /** Slow-start share of an endpoint's weight now: 10% at first, rising linearly to 100%. */
  rampFactor(h: EndpointHealth, now: number, windowMs: number): number {
    const f = (now - h.rampStart) / windowMs;
    return f >= 1 ? 1 : Math.max(0.1, f);
  }

  close(): void {
    this.closed = true;
    for (const h of this.eps.values()) h.checker?.close();
    if (this.review !== null) clearInterval(this.review);
    if (this.ramp !== null) clearInterval(this.ramp);
    this.review = this.ramp = null;
  }
}
