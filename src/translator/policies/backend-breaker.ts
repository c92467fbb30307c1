// BackendTrafficPolicy circuitBreaker -> IrCluster.circuitBreaker, per backend (a policy on the
// backend's Service/Backend counts, between route and listener). Limits are counted per worker
// process by the data plane (src/proxy/upstream/breaker.ts). Without a policy a cluster has no
// limits, only the default retry budget: nothing caps a normal production load.
import type { IrCircuitBreaker } from "../../ir/types.js";
import { registerApplier } from "./registry.js";
import { varyBackends } from "./backend-variant.js";

interface BreakerSection {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxParallelRequests?: number;
  maxParallelRetries?: number;
  retryBudget?: { budgetPercent?: number; minRetryConcurrency?: number };
}

const KIND = "BackendTrafficPolicy";
export const DEFAULT_RETRY_BUDGET_PERCENT = 20;
export const DEFAULT_RETRY_MIN_CONCURRENCY = 3;

export function policyBreaker(s: BreakerSection): IrCircuitBreaker {
  const out: IrCircuitBreaker = {
    retryBudgetPercent: s.retryBudget?.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT,
    retryBudgetMinConcurrency: s.retryBudget?.minRetryConcurrency ?? DEFAULT_RETRY_MIN_CONCURRENCY,
  };
  if (s.maxConnections !== undefined) out.maxConnections = s.maxConnections;
  if (s.maxPendingRequests !== undefined) out.maxPendingRequests = s.maxPendingRequests;
  if (s.maxParallelRequests !== undefined) out.maxParallelRequests = s.maxParallelRequests;
  if (s.maxParallelRetries !== undefined) out.maxParallelRetries = s.maxParallelRetries;
  return out;
}

registerApplier({
  kind: KIND,
  sections: ["circuitBreaker"],
  route(ctx, policies, route, scope) {
    varyBackends(ctx, policies, route, scope, KIND, "circuitBreaker", (s) => ({ circuitBreaker: policyBreaker(s.value as BreakerSection) }));
  },
});
