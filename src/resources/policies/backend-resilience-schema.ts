// BackendTrafficPolicy retry, timeout and circuitBreaker sections: Envoy Gateway's field names,
// plus two of our own, each documented where it is declared (retry.retryNonIdempotent,
// circuitBreaker.retryBudget). How they apply: src/translator/policies/backend-{retry,timeout,breaker}.ts.
import { parseDuration } from "../duration.js";
import type { Reporter } from "../reporter.js";
import { asObj } from "../rules/util.js";
import { DURATION_SCHEMA } from "./policy-kind.js";

/** Envoy Gateway's retry triggers (HTTP ones, then the gRPC status names). */
export const RETRY_TRIGGERS = [
  "5xx",
  "gateway-error",
  "reset",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
] as const;

const LIMIT = { type: "integer", minimum: 0, maximum: 4294967295 } as const;

export const RETRY_SCHEMA = {
  type: "object",
  properties: {
    numRetries: { type: "integer", minimum: 0, maximum: 100, description: "Retries after the first attempt. Default 2." },
    retryOn: {
      type: "object",
      properties: {
        triggers: { type: "array", items: { type: "string", enum: RETRY_TRIGGERS } },
        httpStatusCodes: { type: "array", items: { type: "integer", minimum: 100, maximum: 599 } },
      },
    },
    perRetry: {
      type: "object",
      properties: {
        timeout: DURATION_SCHEMA,
        backOff: { type: "object", properties: { baseInterval: DURATION_SCHEMA, maxInterval: DURATION_SCHEMA } },
      },
    },
    retryNonIdempotent: {
      type: "boolean",
      description:
        "Sluice: also retry requests whose method is not idempotent (POST, PATCH, ...) after they reached the backend. Default false: such a request is retried only when it provably was not processed (connect failure, refused stream).",
    },
  },
} as const;

export const TIMEOUT_SCHEMA = {
  type: "object",
  properties: {
    tcp: { type: "object", properties: { connectTimeout: DURATION_SCHEMA } },
    http: {
      type: "object",
      properties: { requestTimeout: DURATION_SCHEMA, connectionIdleTimeout: DURATION_SCHEMA, maxConnectionDuration: DURATION_SCHEMA },
    },
  },
} as const;

export const CIRCUIT_BREAKER_SCHEMA = {
  type: "object",
  properties: {
    maxConnections: LIMIT,
    maxPendingRequests: LIMIT,
    maxParallelRequests: LIMIT,
    maxParallelRetries: LIMIT,
    retryBudget: {
      type: "object",
      description:
        "Sluice (Envoy's retry_budget): retries in progress may be at most budgetPercent of the requests in progress to the backend, but minRetryConcurrency are always allowed. Default 20 percent, 3.",
      properties: {
        budgetPercent: { type: "number", minimum: 0, maximum: 100 },
        minRetryConcurrency: { type: "integer", minimum: 0, maximum: 4294967295 },
      },
    },
  },
} as const;

/** Rules the schemas cannot say: a backoff's maxInterval is not below its baseInterval; codes need their trigger. */
export function checkResilience(spec: Record<string, unknown> | undefined, rep: Reporter): void {
  const retry = asObj(spec?.retry);
  if (!retry) return;
  const backOff = asObj(asObj(retry.perRetry)?.backOff);
  const base = typeof backOff?.baseInterval === "string" ? parseDuration(backOff.baseInterval) : null;
  const max = typeof backOff?.maxInterval === "string" ? parseDuration(backOff.maxInterval) : null;
  if (base !== null && max !== null && max < base) {
    rep.error(["spec", "retry", "perRetry", "backOff", "maxInterval"], `maxInterval ${String(backOff?.maxInterval)} is shorter than baseInterval ${String(backOff?.baseInterval)}`, "a maxInterval >= baseInterval (default: 10 x baseInterval)");
  }
  const on = asObj(retry.retryOn);
  const triggers = Array.isArray(on?.triggers) ? on.triggers : undefined;
  if (Array.isArray(on?.httpStatusCodes) && on.httpStatusCodes.length > 0 && triggers !== undefined && !triggers.includes("retriable-status-codes")) {
    rep.error(["spec", "retry", "retryOn", "httpStatusCodes"], "httpStatusCodes are listed but triggers has no retriable-status-codes, so they would never be retried", 'add "retriable-status-codes" to retryOn.triggers');
  }
}
