// BackendTrafficPolicy retry -> the route's IrRetry (and its per-try timeout).
//
// Precedence: an HTTPRoute rule's own `retry` (GEP-1731) is more specific than any policy and wins
// as a whole, as in Envoy Gateway; the policy's retry is then not merged into it, except for
// retryNonIdempotent, which GEP-1731 cannot say (so a route's own retry can be allowed to repeat a
// POST). Likewise the rule's `timeouts.backendRequest` wins over the policy's perRetry.timeout.
//
// Triggers, as Envoy defines them:
//   5xx            every 5xx response, and every failure without a response (connect, reset, per-try timeout)
//   gateway-error  502/503/504, and every failure without a response
//   reset          failures without a response after connecting (disconnect, reset, per-try timeout)
//   connect-failure, refused-stream   only those failures
//   retriable-4xx  409;  retriable-status-codes  retryOn.httpStatusCodes
//   cancelled, deadline-exceeded, internal, resource-exhausted, unavailable   gRPC statuses (trailers-only)
// Without retryOn, Envoy Gateway's default: connect-failure, refused-stream, unavailable, cancelled
// and retriable-status-codes with 503.
import type { IrRetry, IrRetryOn, IrRoute } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import type { PolicyIndex, RouteScope } from "./attach.js";
import { registerApplier } from "./registry.js";

interface RetrySection {
  numRetries?: number;
  retryOn?: { triggers?: string[]; httpStatusCodes?: number[] };
  perRetry?: { timeout?: string; backOff?: { baseInterval?: string; maxInterval?: string } };
  retryNonIdempotent?: boolean;
}

const KIND = "BackendTrafficPolicy";
const DEFAULT_RETRIES = 2;
const DEFAULT_BACKOFF_MS = 25;
const DEFAULT_TRIGGERS = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"];
const DEFAULT_CODES = [503];
const GRPC_TRIGGERS: Record<string, number> = { cancelled: 1, "deadline-exceeded": 4, "resource-exhausted": 8, internal: 13, unavailable: 14 };

/** The IR retry of a policy section; exported for unit tests. */
export function policyRetry(s: RetrySection): IrRetry {
  const on = s.retryOn;
  const triggers = new Set(on === undefined ? DEFAULT_TRIGGERS : (on.triggers ?? (on.httpStatusCodes?.length ? ["retriable-status-codes"] : [])));
  const listed = on === undefined ? DEFAULT_CODES : (on.httpStatusCodes ?? []);
  const codes = new Set<number>();
  if (triggers.has("5xx")) for (let c = 500; c < 600; c++) codes.add(c);
  if (triggers.has("gateway-error")) for (const c of [502, 503, 504]) codes.add(c);
  if (triggers.has("retriable-4xx")) codes.add(409);
  if (triggers.has("retriable-status-codes")) for (const c of listed) codes.add(c);
  const noResponse = triggers.has("5xx") || triggers.has("gateway-error");
  const flags: IrRetryOn = {
    connectFailure: noResponse || triggers.has("reset") || triggers.has("connect-failure"),
    reset: noResponse || triggers.has("reset"),
    refusedStream: noResponse || triggers.has("reset") || triggers.has("refused-stream"),
    all5xx: triggers.has("5xx"),
  };
  const grpcCodes = Object.entries(GRPC_TRIGGERS).filter(([t]) => triggers.has(t)).map(([, c]) => c);
  const base = durationMs(s.perRetry?.backOff?.baseInterval) ?? DEFAULT_BACKOFF_MS;
  const max = durationMs(s.perRetry?.backOff?.maxInterval);
  const retry: IrRetry = {
    attempts: s.numRetries ?? DEFAULT_RETRIES,
    codes: [...codes].sort((a, b) => a - b),
    backoffMs: base,
    on: flags,
    maxBackoffMs: max !== undefined ? Math.max(max, base) : base * 10,
  };
  if (grpcCodes.length > 0) retry.grpcCodes = grpcCodes;
  if (s.retryNonIdempotent === true) retry.retryNonIdempotent = true;
  return retry;
}

function durationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  return ms === null ? undefined : ms;
}

function apply(policies: PolicyIndex, route: IrRoute, scope: RouteScope): void {
  const s = policies.sections(KIND, scope).get("retry")?.value as RetrySection | undefined;
  if (s === undefined) return;
  if (route.retry !== undefined) {
    if (s.retryNonIdempotent === true) route.retry = { ...route.retry, retryNonIdempotent: true };
    return;
  }
  const perTry = durationMs(s.perRetry?.timeout);
  // "0s" means no per-try timeout, as for the route's own durations.
  if (perTry !== undefined && perTry > 0 && route.timeouts?.backendRequestMs === undefined) route.timeouts = { ...route.timeouts, backendRequestMs: perTry };
  const retry = policyRetry(s);
  if (retry.attempts > 0) route.retry = retry;
}

registerApplier({
  kind: KIND,
  sections: ["retry"],
  route(_ctx, policies, route, scope) {
    apply(policies, route, scope);
  },
});
