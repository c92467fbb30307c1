// BackendTrafficPolicy retry/timeout/circuitBreaker: how sections become IR (triggers, defaults)
// and what the loader refuses (checks beyond the schema, unknown fields).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";
import { policyRetry } from "../../../src/translator/policies/backend-retry.js";
import { policyBreaker } from "../../../src/translator/policies/backend-breaker.js";

test("retry: Envoy Gateway's defaults for an empty section", () => {
  const r = policyRetry({});
  assert.equal(r.attempts, 2);
  assert.deepEqual(r.codes, [503]);
  assert.deepEqual(r.grpcCodes, [1, 14]);
  assert.deepEqual(r.on, { connectFailure: true, reset: false, refusedStream: true, all5xx: false });
  assert.equal(r.backoffMs, 25);
  assert.equal(r.maxBackoffMs, 250);
  assert.equal(r.retryNonIdempotent, undefined);
});

test("retry: triggers map to statuses and failure kinds", () => {
  const gw = policyRetry({ retryOn: { triggers: ["gateway-error"] } });
  assert.deepEqual(gw.codes, [502, 503, 504]);
  assert.deepEqual(gw.on, { connectFailure: true, reset: true, refusedStream: true, all5xx: false });
  const reset = policyRetry({ retryOn: { triggers: ["reset"] } });
  assert.deepEqual(reset.codes, []);
  assert.deepEqual(reset.on, { connectFailure: true, reset: true, refusedStream: true, all5xx: false });
  const connect = policyRetry({ retryOn: { triggers: ["connect-failure", "retriable-4xx"] } });
  assert.deepEqual(connect.codes, [409]);
  assert.deepEqual(connect.on, { connectFailure: true, reset: false, refusedStream: false, all5xx: false });
  const all = policyRetry({ retryOn: { triggers: ["5xx"] } });
  assert.equal(all.codes.length, 100);
  assert.equal(all.on?.all5xx, true);
  // Codes alone imply retriable-status-codes.
  assert.deepEqual(policyRetry({ retryOn: { httpStatusCodes: [429, 503] } }).codes, [429, 503]);
  assert.deepEqual(policyRetry({ retryOn: { triggers: ["internal", "resource-exhausted", "deadline-exceeded"] } }).grpcCodes, [4, 8, 13]);
});

test("retry: backoff from perRetry.backOff, maxInterval never below baseInterval", () => {
  const r = policyRetry({ numRetries: 0, perRetry: { backOff: { baseInterval: "100ms", maxInterval: "2s" } }, retryNonIdempotent: true });
  assert.equal(r.attempts, 0);
  assert.equal(r.backoffMs, 100);
  assert.equal(r.maxBackoffMs, 2000);
  assert.equal(r.retryNonIdempotent, true);
});

test("circuitBreaker: only the limits given, the retry budget always filled in", () => {
  assert.deepEqual(policyBreaker({}), { retryBudgetPercent: 20, retryBudgetMinConcurrency: 3 });
  assert.deepEqual(policyBreaker({ maxConnections: 0, maxParallelRetries: 5, retryBudget: { minRetryConcurrency: 1 } }), {
    maxConnections: 0,
    maxParallelRetries: 5,
    retryBudgetPercent: 20,
    retryBudgetMinConcurrency: 1,
  });
});

const policy = (spec: string): string => `apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: p, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: r }]
${spec}`;

function errors(text: string): { field?: string; message: string; expected?: string }[] {
  return parseDocuments(text, "p.yaml").diagnostics.filter((d) => d.severity === "error");
}

test("loader: a valid section passes", () => {
  const text = policy(`  retry:
    numRetries: 3
    retryOn: { triggers: [5xx, retriable-status-codes], httpStatusCodes: [429] }
    perRetry: { timeout: 2s, backOff: { baseInterval: 100ms, maxInterval: 1s } }
    retryNonIdempotent: false
  timeout:
    tcp: { connectTimeout: 1s }
    http: { requestTimeout: 10s, connectionIdleTimeout: 1m, maxConnectionDuration: 1h }
  circuitBreaker: { maxConnections: 100, maxPendingRequests: 10, maxParallelRequests: 1000, maxParallelRetries: 10, retryBudget: { budgetPercent: 25.5, minRetryConcurrency: 5 } }`);
  assert.deepEqual(errors(text), []);
});

test("loader: maxInterval below baseInterval, codes without their trigger, unknown fields and bad triggers are refused", () => {
  const errs = errors(
    policy(`  retry:
    retryOn: { triggers: [5xx], httpStatusCodes: [418] }
    perRetry: { backOff: { baseInterval: 1s, maxInterval: 100ms } }
  circuitBreaker: { maxConnectons: 5 }`),
  );
  const at = (f: string) => errs.find((e) => e.field === f);
  assert.match(at("spec.retry.perRetry.backOff.maxInterval")?.message ?? "", /shorter than baseInterval/);
  assert.match(at("spec.retry.retryOn.httpStatusCodes")?.expected ?? "", /retriable-status-codes/);
  assert.match(at("spec.circuitBreaker.maxConnectons")?.expected ?? "", /maxConnections/);
  const bad = errors(policy(`  retry: { retryOn: { triggers: [5XX] }, numRetries: -1 }`));
  assert.ok(bad.some((e) => e.field?.startsWith("spec.retry.retryOn.triggers")), JSON.stringify(bad));
  assert.ok(bad.some((e) => e.field === "spec.retry.numRetries"), JSON.stringify(bad));
});
