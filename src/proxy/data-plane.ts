// The L7 data plane of one worker process: compiles snapshots, swaps them in atomically, and keeps
// the set of bound ports in line with the snapshot's listeners.
import type { ListenerResult } from "../control/messages.js";
import type { IrVirtualHost, Snapshot } from "../ir/types.js";
import { L4DataPlane } from "../l4/plane.js";
import { AccessLog } from "../observe/access-log.js";
import { CompileCache, compileSnapshot, type CompiledSnapshot } from "./compile.js";
import type { SnapshotState } from "./compiled.js";
import { PortServer } from "./listeners.js";
import { commitNetworkPolicy, stageNetworkPolicy } from "./conn-policy.js";
import { pruneContextCache } from "./tls.js";
import { applyDelta, makeDelta, type SnapshotDelta } from "./snapshot-delta.js";
import { EndpointRegistry } from "./upstream/cluster.js";
import { inTurns } from "../util/in-turns.js";
import { forgetShapes } from "./shape-keeper.js";

export interface DataPlaneOptions {
  listenAddress?: string;
  /** "stdout", "off" or a file path. */
  accessLog: string;
  /** Bound on waiting for requests in flight when a listener closes (default 10 s). */
  drainMs?: number;
}

export class ProxyDataPlane {
  private readonly servers = new Map<number, PortServer>();
  private readonly registry = new EndpointRegistry();
  private readonly log: AccessLog;
  private current: CompiledSnapshot | null = null;
  /** Version and hash of the snapshot `current` was compiled from (not the snapshot: its IR is not kept). */
  private currentId = "";
  /** Compiled pieces of the serving snapshot that the next compile reuses where unchanged. */
  private readonly cache = new CompileCache();
  /** Replaced snapshots with requests still in flight. */
  private readonly retired = new Set<SnapshotState>();
  private readonly drainMs: number;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** Applies queued or running (rehearse() gives way to them). */
  private applying = 0;
  private readonly l4: L4DataPlane;

  constructor(private readonly opts: DataPlaneOptions) {
    this.log = new AccessLog(opts.accessLog);
    this.drainMs = opts.drainMs ?? 10_000;
    this.l4 = new L4DataPlane({ listenAddress: opts.listenAddress, drainMs: this.drainMs, log: this.log });
  }

  /** Serialised: concurrent applies run one after another. */
  apply(snapshot: Snapshot): Promise<ListenerResult[]> {
    this.applying++;
    const run = this.chain.then(() => this.applyNow(snapshot));
    this.chain = run.catch(() => undefined).finally(() => this.applying--);
    return run;
  }

  /**
   * Runs what the next route change will run `runs` times, one per macrotask, and throws the result
   * away: the first real change then does not run that code unoptimised (at 5,000 routes the control
   * process's change path cost 2-4x on its first runs; see ConfigController.warmUp). A run is a delta
   * from the serving snapshot's compact base (from deltaBase()) to the base with `sample`'s virtual
   * host in its place anew, through JSON as IPC brings it, rebuilt and compiled through the cache: the
   * sample's routes are compiled as a changed route's are. Stops as soon as an apply is queued or
   * `base` no longer serves. Nothing is committed or kept.
   */
  rehearse(base: Snapshot, runs: number, sample: VhostSample | null = null): Promise<number> {
    return inTurns(runs, () => {
      if (this.closed || this.applying > 0 || this.currentId !== `${base.version} ${base.hash}`) return false;
      const stats = this.cache.stats;
      try {
        const delta = makeDelta(base, sample === null ? base : withSample(base, sample));
        const wire = delta === null ? null : (JSON.parse(JSON.stringify(delta)) as SnapshotDelta);
        compileSnapshot(wire ? applyDelta(base, wire) : base, this.registry, this.log, this.cache);
      } catch {
        return false;
      } finally {
        this.cache.stats = stats;
      }
      return true;
    });
  }

  private async applyNow(snapshot: Snapshot): Promise<ListenerResult[]> {
    if (this.closed) throw new Error("data plane is closed");
    // Compile everything first: a snapshot that cannot be compiled changes nothing.
    // Network policy first: the L7 guards compiled with the snapshot read it. Accept-time checks
    // switch to it once the snapshot compiled (unchanged sections are a no-op).
    stageNetworkPolicy(snapshot.config.networkPolicy);
    const next = compileSnapshot(snapshot, this.registry, this.log, this.cache);
    commitNetworkPolicy();
    const wanted = new Map(next.listeners.map((l) => [l.port, l]));
    const closing: Promise<void>[] = [];
    for (const [port, ps] of this.servers) {
      const l = wanted.get(port);
      if (!l || l.protocol !== ps.current.protocol) {
        this.servers.delete(port);
        closing.push(ps.close(this.drainMs));
      }
    }
    // The listening sockets of removed ports are closed synchronously by close(); give the event
    // loop a turn so a protocol change can bind the same port again.
    if (closing.length) await new Promise((r) => setImmediate(r));
    // L4 listeners (TCP/TLS passthrough/UDP) are src/l4's: applied between the L7 closes and binds,
    // so a port moving between L4 and L7 is free when the new owner binds it.
    const results: ListenerResult[] = await this.l4.apply(snapshot.config);
    for (const l of next.listeners) {
      const existing = this.servers.get(l.port);
      if (existing) {
        existing.update(l);
        results.push({ name: l.name, port: l.port, ok: true });
        continue;
      }
      const ps = new PortServer(l);
      const err = await ps.listen(this.opts.listenAddress);
      if (err === null) {
        this.servers.set(l.port, ps);
        results.push({ name: l.name, port: l.port, ok: true });
      } else {
        results.push({ name: l.name, port: l.port, ok: false, error: err });
      }
    }
    const prev = this.current;
    this.current = next;
    this.currentId = `${snapshot.version} ${snapshot.hash}`;
    next.commit();
    forgetShapes();
    if (prev) this.retire(prev.state);
    else void this.releaseEndpoints();
    const certs = new Set(next.certKeys);
    pruneContextCache(certs);
    return results;
  }

  private retire(state: SnapshotState): void {
    if (state.inflight === 0) {
      void this.releaseEndpoints();
      return;
    }
    this.retired.add(state);
    state.onIdle = () => {
      this.retired.delete(state);
      void this.releaseEndpoints();
    };
  }

  /** Closes upstream connections no live snapshot refers to, once their requests are done. */
  private releaseEndpoints(): Promise<void> {
    const inUse = new Set<string>(this.current?.state.endpointKeys ?? []);
    for (const s of this.retired) for (const k of s.endpointKeys) inUse.add(k);
    return this.registry.release(inUse);
  }

  /**
   * The serving snapshot as the base for the next delta, without its routes' IR (compile.ts
   * deltaBase); null unless `snapshot` is the one serving.
   */
  deltaBase(snapshot: Snapshot): Snapshot | null {
    return this.current !== null && this.currentId === `${snapshot.version} ${snapshot.hash}` ? this.current.deltaBase() : null;
  }

  /** Virtual hosts the last apply compiled (not reused): how big a change it was. */
  get compiledVhosts(): number {
    return this.cache.stats.vhostsCompiled;
  }

  /** Listener addresses currently bound (for tests and diagnostics). */
  boundPorts(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.all([...servers.map((s) => s.close(this.drainMs)), this.l4.close()]);
    this.current = null;
    this.currentId = "";
    this.retired.clear();
    await this.registry.closeAll();
    await this.log.close();
  }
}

/** A virtual host of a snapshot (one with routes), as JSON, and where it is: rehearse() compiles it anew. */
export interface VhostSample {
  listener: number;
  gateway: number;
  index: number;
  json: string;
}

/** The last virtual host with routes in `snapshot` (an IR snapshot, before it is made compact). */
export function sampleVhost(snapshot: Snapshot): VhostSample | null {
  const ls = snapshot.config.listeners;
  for (let li = ls.length - 1; li >= 0; li--) {
    const gs = ls[li]!.gatewayListeners;
    for (let gi = gs.length - 1; gi >= 0; gi--) {
      const vs = gs[gi]!.virtualHosts;
      for (let vi = vs.length - 1; vi >= 0; vi--) if (vs[vi]!.routes.length > 0) return { listener: li, gateway: gi, index: vi, json: JSON.stringify(vs[vi]) };
    }
  }
  return null;
}

/** `base` with the sample's virtual host, parsed anew, in its place; the rest is base's own objects. */
function withSample(base: Snapshot, s: VhostSample): Snapshot {
  const listeners = base.config.listeners.slice();
  const l = listeners[s.listener];
  const g = l?.gatewayListeners[s.gateway];
  if (l === undefined || g === undefined || s.index >= g.virtualHosts.length) return base;
  const virtualHosts = g.virtualHosts.slice();
  virtualHosts[s.index] = JSON.parse(s.json) as IrVirtualHost;
  const gatewayListeners = l.gatewayListeners.slice();
  gatewayListeners[s.gateway] = { ...g, virtualHosts };
  listeners[s.listener] = { ...l, gatewayListeners };
  return { ...base, config: { ...base.config, listeners } };
}
