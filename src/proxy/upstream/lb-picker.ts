// One picker interface for every load-balancing algorithm. A picker is compiled from the usable
// endpoints of a cluster (healthy, not ejected, with their effective weights) whenever that set
// changes, never per request; a pick is O(1) or O(log n) and allocates nothing.
import type { IrLoadBalancer } from "../../ir/types.js";
import { LeastRequestPicker } from "./lb-least-request.js";
import { MaglevPicker } from "./lb-maglev.js";
import { RandomPicker } from "./lb-random.js";
import { RingHashPicker } from "./lb-ring-hash.js";
import { RoundRobinPicker } from "./lb-round-robin.js";

/** A usable endpoint: its index in the cluster's endpoint list, weight (> 0) and stable identity. */
export interface Candidate {
  index: number;
  weight: number;
  /** Unique within the cluster ("10.0.0.1:8080"); hash tables are built from it. */
  key: string;
}

/** Live load of an endpoint, read by least request. */
export interface Loaded {
  active: number;
}

export interface Picker {
  /** The endpoint index to use, or -1 when there is none. `hash` is a 30-bit key, or -1 for none. */
  pick(hash: number): number;
}

export const NO_ENDPOINT: Picker = { pick: () => -1 };

/** Maglev table size when the policy gives none (Envoy Gateway's default). */
export const DEFAULT_MAGLEV_SIZE = 65537;
/** Ring hash: virtual nodes per endpoint (of the largest weight) when the policy gives none. */
export const DEFAULT_RING_SIZE = 1024;

export function buildPicker(lb: IrLoadBalancer | undefined, cands: Candidate[], endpoints: readonly Loaded[]): Picker {
  if (cands.length === 0) return NO_ENDPOINT;
  switch (lb?.type ?? "RoundRobin") {
    case "Random":
      return new RandomPicker(cands);
    case "LeastRequest":
      return new LeastRequestPicker(cands, endpoints);
    case "ConsistentHash": {
      const ch = lb!.consistentHash;
      if (ch?.algorithm === "RingHash") return new RingHashPicker(cands, ch.tableSize || DEFAULT_RING_SIZE);
      return new MaglevPicker(cands, ch?.tableSize || DEFAULT_MAGLEV_SIZE);
    }
    default:
      return new RoundRobinPicker(cands);
  }
}
