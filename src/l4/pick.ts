// Weighted choice of a backend (per connection or per UDP client) and of an endpoint inside it,
// compiled once per snapshot. Choices are made at a given point of 0..1 (random, or a client hash).
import type { ConnectionOptions } from "node:tls";
import type { IrEndpoint, IrL4Backend } from "../ir/types.js";
import type { L4BackendCells, L4RouteStats } from "../observe/l4-metrics.js";
import { upstreamTls } from "../proxy/upstream/tls-connect.js";
import { WeightedPicker } from "../proxy/weighted.js";
import { fnv1a } from "../util/fnv.js";

export interface Target {
  host?: string;
  port?: number;
  path?: string;
}

export interface CompiledBackend {
  /** null: the backendRef did not resolve. */
  name: string | null;
  endpoints: WeightedPicker<IrEndpoint>;
  /** Counters bound at compile time (null when compiled without stats, e.g. in unit tests). */
  cells: L4BackendCells | null;
  /** BackendTLSPolicy (Terminate listeners re-encrypt with it); null: plaintext to the backend. */
  tls: L4BackendTls | null;
}

export interface L4BackendTls {
  /** The same options the L7 upstream pools use (CA, SNI, identity check), without ALPN. */
  options: ConnectionOptions;
  /** The policy cannot be applied: connections to this backend are refused. */
  error: string | null;
}

export interface Choice {
  backend: CompiledBackend;
  /** null: the share is refused (unresolved backendRef, or no endpoint). */
  target: Target | null;
}

export class BackendPicker {
  private readonly backends: WeightedPicker<CompiledBackend>;

  constructor(backends: IrL4Backend[], stats: L4RouteStats | null = null) {
    this.backends = new WeightedPicker(
      backends.map((b) => ({
        item: {
          name: b.name,
          endpoints: new WeightedPicker(b.endpoints.map((e) => ({ item: e, weight: e.weight }))),
          cells: stats ? stats.backend(b.name) : null,
          tls: b.tls ? { options: upstreamTls(b.tls, null).options, error: b.tls.error ?? null } : null,
        },
        weight: b.weight,
      })),
    );
  }

  /** Picks a backend by `r1` (0..1) and one of its endpoints by `r2`; null when there are no backends. */
  choose(r1: number = Math.random(), r2: number = Math.random()): Choice | null {
    const b = this.backends.pickAt(r1);
    if (!b) return null;
    if (b.name === null) return { backend: b, target: null };
    const e = b.endpoints.pickAt(r2);
    if (!e) return { backend: b, target: null };
    return { backend: b, target: "path" in e ? { path: e.path } : { host: e.address, port: e.port } };
  }

  /**
   * Like choose, but null whenever there is nothing to connect to (no backends, or the chosen share
   * is unresolved or has no endpoint) -> refuse.
   */
  pick(r1: number = Math.random(), r2: number = Math.random()): { backend: string; target: Target } | null {
    const c = this.choose(r1, r2);
    if (!c || c.target === null || c.backend.name === null) return null;
    return { backend: c.backend.name, target: c.target };
  }
}

/** Stable 0..1 hash of a string (FNV-1a): every worker maps one UDP client to the same backend. */
export function unitHash(s: string, seed = 0x811c9dc5): number {
  let h = fnv1a(s, seed);
  // Final avalanche so nearby ports spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return (h >>> 0) / 0x1_0000_0000;
}
