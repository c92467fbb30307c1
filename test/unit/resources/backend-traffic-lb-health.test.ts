// BackendTrafficPolicy loadBalancer / healthCheck validation: Envoy Gateway's union rules (a
// discriminator and only its own member), prime Maglev table sizes, ranges; each error located.
import { test } from "node:test";
import assert from "node:assert/strict";
import { errorsOf, expectError } from "./helpers.js";

const policy = (body: string): string => `apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: p, namespace: default }
spec:
  targetRefs: [{ group: "", kind: Service, name: api }]
${body}`;

test("a valid load balancer and health check pass", () => {
  const text = policy(`  loadBalancer:
    type: ConsistentHash
    consistentHash: { type: Cookie, cookie: { name: s, ttl: 1h, attributes: { SameSite: Lax } }, tableSize: 65537 }
  healthCheck:
    active: { type: HTTP, interval: 2s, http: { path: /healthz, expectedStatuses: [200, 204] } }
    passive: { consecutive5XxErrors: 3, baseEjectionTime: 10s, maxEjectionPercent: 50 }
`);
  assert.deepEqual(errorsOf(text), []);
});

test("union members must match their discriminator", () => {
  expectError(policy("  loadBalancer: { type: ConsistentHash }\n"), { field: "spec.loadBalancer.consistentHash", line: 6, message: "type is ConsistentHash but consistentHash is missing" });
  expectError(policy("  loadBalancer: { type: ConsistentHash, consistentHash: { type: QueryParams } }\n"), { field: "spec.loadBalancer.consistentHash.queryParams", line: 6, message: "queryParams is missing" });
  expectError(policy("  loadBalancer: { type: Random, slowStart: { window: 3s } }\n"), { field: "spec.loadBalancer.slowStart", line: 6, message: "not supported with type Random" });
  expectError(policy("  healthCheck: { active: { type: HTTP } }\n"), { field: "spec.healthCheck.active.http", line: 6, message: "type is HTTP but http is missing" });
  expectError(policy("  healthCheck: { active: { type: GRPC, tcp: {} } }\n"), { field: "spec.healthCheck.active.tcp", line: 6, message: "tcp is set but type is GRPC" });
});

test("Maglev table sizes must be prime; ranges hold", () => {
  expectError(policy("  loadBalancer: { type: ConsistentHash, consistentHash: { type: SourceIP, tableSize: 1000 } }\n"), { field: "spec.loadBalancer.consistentHash.tableSize", line: 6, message: "1000 is not a prime number", expected: "1009" });
  assert.deepEqual(errorsOf(policy("  loadBalancer: { type: ConsistentHash, consistentHash: { type: SourceIP, tableSize: 1000, algorithm: RingHash } }\n")), []);
  expectError(policy("  healthCheck: { passive: { maxEjectionPercent: 101 } }\n"), { field: "spec.healthCheck.passive.maxEjectionPercent", line: 6, message: "out of range" });
});
