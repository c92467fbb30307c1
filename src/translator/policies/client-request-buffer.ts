// BackendTrafficPolicy requestBuffer.limit -> route.maxRequestBodyBytes: the largest request body a
// route accepts (413 from the gateway above it). Bodies still stream; nothing is buffered.
import { BYTES_QUANTITY } from "../../resources/policies/backend-traffic-policy.js";
import { SLUICE_GROUP } from "../kinds.js";
import { registerApplier } from "./registry.js";

const UNITS: Record<string, number> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** Bytes of a quantity (1048576, "512Ki", "10Mi"), or null when it is not one. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v !== "string") return null;
  const m = BYTES_QUANTITY.exec(v);
  if (!m) return null;
  const n = Number(m[1]) * UNITS[m[2] ?? ""]!;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

registerApplier({
  kind: "BackendTrafficPolicy",
  sections: ["requestBuffer"],
  route(ctx, policies, route, scope) {
    const s = policies.sections("BackendTrafficPolicy", scope).get("requestBuffer");
    if (!s) return;
    const limit = (s.value as { limit?: unknown }).limit;
    const bytes = parseBytes(limit);
    if (bytes === null) {
      const p = s.policy;
      ctx.report("error", { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace, name: p.name }, `${s.field}.limit`, `${JSON.stringify(limit)} is not a positive size in bytes; no body limit applies`, 'a byte count or quantity such as 1048576, "512Ki" or "10Mi"');
      return;
    }
    route.maxRequestBodyBytes = bytes;
  },
});
