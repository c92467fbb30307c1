import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectRpc, grpcBackendsYaml, grpcRoutesMustBeAccepted, sendRpc } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "GRPCRouteWeight",
    features: ["SupportGateway", "SupportGRPCRoute"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: weighted-backends, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs:
    - {name: grpc-infra-backend-v1, port: 8080, weight: 70}
    - {name: grpc-infra-backend-v2, port: 8080, weight: 30}
    - {name: grpc-infra-backend-v3, port: 8080, weight: 0}
`,
    },
  },
  (ctx) => {
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, { namespace: ns, name: "same-namespace" }, [{ namespace: ns, name: "weighted-backends" }]);
    });
    test("Requests should have a distribution that matches the weight", async () => {
      const port = ctx.env.port("same-namespace");
      await expectRpc(port, { method: "Echo", namespace: ns });
      // Upstream's sampler: 500 calls, each share within 5 percentage points; up to 3 tries.
      const expected: Record<string, number> = { "grpc-infra-backend-v1": 0.7, "grpc-infra-backend-v2": 0.3, "grpc-infra-backend-v3": 0 };
      let last = "";
      for (let round = 0; round < 3; round++) {
        const counts: Record<string, number> = {};
        const total = 500;
        for (let i = 0; i < total; i += 25) {
          const batch = await Promise.all(Array.from({ length: 25 }, (_, j) => sendRpc(port, { method: "Echo", metadata: { "x-jitter": `${round}-${i + j}` } })));
          for (const r of batch) {
            assert.equal(r.code, 0, r.details);
            const pod = r.reply!.pod.replace(/-pod-\d+$/, "");
            counts[pod] = (counts[pod] ?? 0) + 1;
          }
        }
        const off = Object.entries(expected).filter(([b, w]) => Math.abs((counts[b] ?? 0) / total - w) > 0.05 || (w === 0 && (counts[b] ?? 0) > 0));
        if (off.length === 0) return;
        last = JSON.stringify(counts);
      }
      assert.fail(`distribution off the weights in 3 rounds: ${last}`);
    });
  },
);
