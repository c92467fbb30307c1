// A cluster of a snapshot: its protocol, endpoints and the picker that chooses one per request.
// The picker (round robin, least request, random, Maglev, ring hash) is compiled from the usable
// endpoints and recompiled only when their health or slow-start weights change; session
// persistence and the hash input are compiled once per snapshot too.
import type { IrCluster } from "../../ir/types.js";
import { EndpointRuntime, type UpstreamProtocol } from "./endpoint.js";
import { ClusterHealth, type EndpointHealth } from "./health-state.js";
import { OUTCOME_CONNECT, OUTCOME_RESET, OUTCOME_TIMEOUT } from "./health-outlier.js";
import { compileHash, hashString, type HashFn, type HashSource } from "./lb-hash.js";
import { buildPicker, type Candidate, type Picker } from "./lb-picker.js";
import { HashCookieStamp, StickySession, type ResponseStamp } from "./lb-session.js";
import { upstreamTls } from "./tls-connect.js";

export type { HashSource } from "./lb-hash.js";

export class ClusterRuntime {
  /** "ws" clusters speak HTTP/1.1 (upgrades ride on it). */
  readonly protocol: UpstreamProtocol;
  /** Set when the cluster's TLS settings cannot be used: every request fails with this reason. */
  tlsError: string | null = null;
  /** Headers to add to responses (session persistence, a generated hash cookie); null: none. */
  readonly stamps: ResponseStamp[] | null;
  private picker: Picker;
  private pickerEpoch = 0;
  private readonly hashFn: HashFn | null;
  private readonly sticky: StickySession | null;
  /** Endpoint -> position, for the outcome and stamp paths (null when neither is configured). */
  private readonly positions: Map<EndpointRuntime, number> | null;
  /** Unique per position (duplicate addresses get a suffix): what hash tables are built from. */
  private readonly keys: string[];

  constructor(
    readonly name: string,
    readonly endpoints: EndpointRuntime[],
    private readonly weights: number[],
    protocol: IrCluster["protocol"],
    private readonly ir: Pick<IrCluster, "loadBalancer" | "sessionPersistence"> = {},
    /** Health of the endpoints (same order) when checks or slow start are configured, else null. */
    private readonly health: ClusterHealth | null = null,
    private readonly states: EndpointHealth[] | null = null,
  ) {
    this.protocol = protocol === "h2c" ? "h2c" : "http1";
    const seen = new Map<string, number>();
    this.keys = endpoints.map((e) => {
      const n = seen.get(e.label) ?? 0;
      seen.set(e.label, n + 1);
      return n === 0 ? e.label : `${e.label}#${n}`;
    });
    const ch = ir.loadBalancer?.type === "ConsistentHash" ? ir.loadBalancer.consistentHash : undefined;
    this.hashFn = ch !== undefined ? compileHash(ch.on) : null;
    const sp = ir.sessionPersistence;
    this.sticky = sp !== undefined ? new StickySession(sp, endpoints.map((e) => e.label)) : null;
    const stamps: ResponseStamp[] = [];
    if (this.sticky !== null) stamps.push(this.sticky);
    else if (ch?.on.type === "Cookie" && ch.on.ttlMs !== undefined) stamps.push(new HashCookieStamp(ch.on));
    this.stamps = stamps.length > 0 ? stamps : null;
    this.positions = this.stamps !== null || states !== null ? new Map(endpoints.map((e, i) => [e, i])) : null;
    this.picker = this.compile();
    this.pickerEpoch = health?.epoch ?? 0;
  }

  private compile(): Picker {
    const cands: Candidate[] = [];
    const states = this.states;
    const slow = this.ir.loadBalancer?.slowStartMs;
    const now = performance.now();
    for (let i = 0; i < this.endpoints.length; i++) {
      let w = this.weights[i]!;
      if (!(w > 0)) continue;
      if (states !== null) {
        const h = states[i]!;
        if (!h.usable) continue;
        if (slow !== undefined && slow > 0) w *= this.health!.rampFactor(h, now, slow);
      }
      cands.push({ index: i, weight: w, key: this.keys[i]! });
    }
    return buildPicker(this.ir.loadBalancer, cands, this.endpoints);
  }

  /**
   * An endpoint for a request (null: none usable). `req` feeds consistent hashing and session
   * persistence; without it (mirrors) those fall back to a random endpoint.
   */
  pick(req?: HashSource | null): EndpointRuntime | null {
    // A cluster whose TLS cannot be set up fails closed, whatever asks (upgrades, mirrors ...).
    if (this.tlsError !== null) return null;
    const health = this.health;
    if (health !== null && this.pickerEpoch !== health.epoch) {
      this.pickerEpoch = health.epoch;
      this.picker = this.compile();
    }
    if (this.sticky !== null && req) {
      const i = this.sticky.lookup(req);
      if (i >= 0 && (this.states === null || this.states[i]!.usable)) return this.endpoints[i]!;
    }
    const i = this.picker.pick(this.hashFn !== null && req ? this.hashFn(req) : -1);
    return i < 0 ? null : this.endpoints[i]!;
  }

  /** The cluster has session persistence (cookie or header). */
  get hasSessions(): boolean {
    return this.sticky !== null;
  }

  /**
   * Does `req` carry a live session naming a usable endpoint of this cluster? Lets a rule with
   * several backendRefs send a session to the backend that holds it before weighing backends.
   */
  holdsSession(req: HashSource): boolean {
    if (this.sticky === null || this.tlsError !== null) return false;
    const i = this.sticky.lookup(req);
    return i >= 0 && (this.states === null || this.states[i]!.usable);
  }

  /** A request to `ep` starts (least request counts requests in flight). */
  started(ep: EndpointRuntime): void {
    ep.active++;
  }

  /** The attempt to `ep` got a response with this status. */
  settle(ep: EndpointRuntime, status: number): void {
    if (ep.active > 0) ep.active--;
    if (this.states !== null) this.record(ep, status);
  }

  /** The attempt to `ep` failed before a response ("connect", "reset", "timeout" ...). */
  settleError(ep: EndpointRuntime, reason: string): void {
    if (ep.active > 0) ep.active--;
    if (this.states !== null) this.record(ep, reason === "connect" ? OUTCOME_CONNECT : reason === "timeout" ? OUTCOME_TIMEOUT : OUTCOME_RESET);
  }

  /** The attempt to `ep` ended without telling anything about the endpoint (client gone ...). */
  release(ep: EndpointRuntime): void {
    if (ep.active > 0) ep.active--;
  }

  private record(ep: EndpointRuntime, outcome: number): void {
    const i = this.positions!.get(ep);
    if (i !== undefined) this.health!.record(this.states![i]!, outcome);
  }

  /** Appends this cluster's response headers (session cookie ...) for a response from `ep`. */
  stamp(headers: string[], ep: EndpointRuntime, req: HashSource): void {
    const i = this.positions?.get(ep);
    if (i === undefined || this.stamps === null) return;
    for (const s of this.stamps) s.stamp(headers, i, req);
  }

  /** Why pick() found nothing, for the 503 body. */
  unavailable(): string {
    if (this.tlsError !== null) return `upstream TLS not usable: ${this.tlsError}`;
    const n = this.endpoints.length;
    // The backend as the user named it, without the policy variant suffix.
    const name = this.name.split("~")[0]!;
    if (n === 0) return `no healthy upstream: ${name} has no endpoints`;
    const states = this.states;
    if (states === null) return `no healthy upstream: every endpoint of ${name} has weight 0`;
    const down = states.filter((h) => h.activeDown);
    const out = states.filter((h) => !h.activeDown && h.counters.ejectedUntil !== 0);
    const parts: string[] = [];
    if (down.length > 0) parts.push(`${down.length} failing active health checks (${down[0]!.label}: ${down[0]!.checker?.reason})`);
    if (out.length > 0) parts.push(`${out.length} ejected by outlier detection (${out[0]!.label}: ${out[0]!.ejectReason})`);
    return `no healthy upstream: all ${n} endpoint${n === 1 ? "" : "s"} of ${name} ${n === 1 ? "is" : "are"} unhealthy: ${parts.join("; ")}`;
  }
}

/**
 * Endpoint connections shared across snapshots. build() returns the clusters of a new snapshot
 * reusing endpoints with the same key (and endpoint health with the same cluster and health check
 * settings); release() closes (gracefully) those no longer referenced.
 */
export class EndpointRegistry {
  private live = new Map<string, EndpointRuntime>();
  private healths = new Map<string, ClusterHealth>();

  build(clusters: IrCluster[]): { clusters: Map<string, ClusterRuntime>; keys: Set<string> } {
    const out = new Map<string, ClusterRuntime>();
    const keys = new Set<string>();
    for (const c of clusters) {
      const proto: UpstreamProtocol = c.protocol === "h2c" ? "h2c" : "http1";
      const eps: EndpointRuntime[] = [];
      const weights: number[] = [];
      const t = c.tls !== undefined && c.tls.error === undefined ? upstreamTls(c.tls, proto === "h2c" ? "h2" : "http/1.1") : null;
      for (const ep of c.endpoints) {
        const key = EndpointRuntime.keyOf(ep, proto, t?.key, c.connection);
        let rt = this.live.get(key);
        if (!rt) {
          rt = new EndpointRuntime(key, ep, proto, t, c.connection);
          this.live.set(key, rt);
        }
        keys.add(key);
        eps.push(rt);
        // Endpoint weight 0 is treated as 1 only when every endpoint has 0 (all equal).
        weights.push(ep.weight);
      }
      if (weights.length > 0 && weights.every((w) => !(w > 0))) weights.fill(1);
      let health: ClusterHealth | null = null;
      let states: EndpointHealth[] | null = null;
      const slow = c.loadBalancer?.slowStartMs;
      if (c.healthCheck !== undefined || (slow !== undefined && slow > 0)) {
        // Keyed by the cluster's base name (without the policy variant suffix) and the health check
        // settings: a change of load balancer keeps the endpoints' health; new check settings start afresh.
        const base = c.name.split("~")[0]!;
        const hkey = `health|${base}|${hashString(JSON.stringify(c.healthCheck ?? null)).toString(36)}`;
        health = this.healths.get(hkey) ?? null;
        if (health === null) {
          health = new ClusterHealth(hkey, base, c.healthCheck);
          this.healths.set(hkey, health);
        }
        states = health.sync(eps, slow);
        keys.add(hkey);
      }
      const cluster = new ClusterRuntime(c.name, eps, weights, c.protocol, c, health, states);
      if (c.tls?.error !== undefined) cluster.tlsError = c.tls.error;
      out.set(c.name, cluster);
    }
    return { clusters: out, keys };
  }

  /** Closes endpoints (and stops health checks) whose key is in none of `inUse` (the snapshots still serving). */
  release(inUse: Set<string>): Promise<void> {
    const tasks: Promise<void>[] = [];
    for (const [k, rt] of this.live) {
      if (!inUse.has(k)) {
        this.live.delete(k);
        tasks.push(rt.close());
      }
    }
    for (const [k, h] of this.healths) {
      if (!inUse.has(k)) {
        this.healths.delete(k);
        h.close();
      }
    }
    return Promise.all(tasks).then(() => undefined);
  }

  closeAll(): Promise<void> {
    return this.release(new Set());
  }

  destroyAll(): void {
    for (const rt of this.live.values()) rt.destroy();
    this.live.clear();
    for (const h of this.healths.values()) h.close();
    this.healths.clear();
  }
}
