// Per-endpoint weights for Service backends. EndpointSlices carry no weight in the Kubernetes API,
// so a slice may say them with an annotation (ours):
//   sluice.dev/endpoint-weights: "10.0.0.1=3, 10.0.0.2=1, *=2"
// <address>=<weight> for one endpoint address of the slice, *=<weight> for the slice's other
// endpoints (default 1). Weights are integers 0..1000000; 0 sends the endpoint nothing. Bad entries
// are reported and ignored.
import type { Context } from "./context.js";
import { refOfItem } from "./context.js";
import type { Item } from "./kinds.js";

export const ENDPOINT_WEIGHTS_ANNOTATION = "sluice.dev/endpoint-weights";

const MAX_WEIGHT = 1_000_000;

export interface SliceWeights {
  byAddress: Map<string, number>;
  rest: number;
}

/** The slice's weights, or null when it has no annotation. */
export function sliceWeights(ctx: Context, slice: Item<unknown>): SliceWeights | null {
  const text = slice.obj.metadata.annotations?.[ENDPOINT_WEIGHTS_ANNOTATION];
  if (text === undefined) return null;
  const out: SliceWeights = { byAddress: new Map(), rest: 1 };
  const field = `metadata.annotations["${ENDPOINT_WEIGHTS_ANNOTATION}"]`;
  for (const part of text.split(",")) {
    const entry = part.trim();
    if (entry === "") continue;
    const eq = entry.lastIndexOf("=");
    const addr = eq > 0 ? entry.slice(0, eq).trim() : "";
    const w = eq > 0 ? Number(entry.slice(eq + 1).trim()) : NaN;
    if (addr === "" || !Number.isInteger(w) || w < 0 || w > MAX_WEIGHT) {
      ctx.report("warning", refOfItem(slice), field, `entry ${JSON.stringify(entry)} is not <address>=<weight>; ignored`, `comma-separated <address>=<weight> (or *=<weight>), weights 0..${MAX_WEIGHT}`);
      continue;
    }
    if (addr === "*") out.rest = w;
    else out.byAddress.set(addr.toLowerCase(), w);
  }
  return out;
}

export function weightOf(w: SliceWeights | null, address: string): number {
  if (w === null) return 1;
  return w.byAddress.get(address.toLowerCase()) ?? w.rest;
}
