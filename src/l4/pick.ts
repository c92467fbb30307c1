// Weighted choice of a backend (per connection or per UDP client) and of an endpoint inside it,
// compiled once per snapshot into cumulative weight tables.
import type { IrEndpoint, IrL4Backend } from "../ir/types.js";

export interface Target {
  host?: string;
  port?: number;
  path?: string;
}

interface Table<T> {
  items: T[];
  cumulative: number[];
  total: number;
}

function table<T>(items: T[], weight: (t: T) => number): Table<T> {
  const kept: T[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const it of items) {
    const w = weight(it);
    if (!(w > 0)) continue;
    total += w;
    kept.push(it);
    cumulative.push(total);
  }
  return { items: kept, cumulative, total };
}

function choose<T>(t: Table<T>, r: number): T | undefined {
  if (t.total === 0) return undefined;
  const x = r * t.total;
  // Tables are small (a route's backends): a linear scan beats a binary search here.
  for (let i = 0; i < t.cumulative.length; i++) if (x < t.cumulative[i]) return t.items[i];
  return t.items[t.items.length - 1];
}

interface CompiledBackend {
  name: string | null;
  endpoints: Table<IrEndpoint>;
}

export class BackendPicker {
  private readonly backends: Table<CompiledBackend>;

  constructor(backends: IrL4Backend[]) {
    this.backends = table(
      backends.map((b) => ({ name: b.name, weight: b.weight, endpoints: table(b.endpoints, (e) => e.weight) })),
      (b) => b.weight,
    );
  }

  /**
   * Picks a backend by `r1` (0..1) and one of its endpoints by `r2`. null: nothing to connect to
   * (no backends, or the chosen share is unresolved or has no endpoint) -> refuse.
   */
  pick(r1: number = Math.random(), r2: number = Math.random()): { backend: string; target: Target } | null {
    const b = choose(this.backends, r1);
    if (!b || b.name === null) return null;
    const e = choose(b.endpoints, r2);
    if (!e) return null;
    return { backend: b.name, target: "path" in e ? { path: e.path } : { host: e.address, port: e.port } };
  }
}

/** Stable 0..1 hash of a string (FNV-1a): every worker maps one UDP client to the same backend. */
export function unitHash(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche so nearby ports spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return (h >>> 0) / 0x1_0000_0000;
}
