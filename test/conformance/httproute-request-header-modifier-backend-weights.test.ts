import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectResponse, send } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const backendRef = (name: string): string => `    - name: ${name}
      port: 8080
      weight: 10
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: ${name}}]}}]`;

conformance(
  {
    name: "HTTPRouteRequestHeaderModifierBackendWeights",
    features: ["SupportHTTPRouteBackendRequestHeaderModification"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-header-modifier-backend-weights, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs:
${backendRef("infra-backend-v1")}
${backendRef("infra-backend-v2")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "request-header-modifier-backend-weights" }] }],
  },
  (ctx) => {
    test("each of 100 requests carries the Backend header set by the backendRef that served it", async () => {
      const port = ctx.env.port("same-namespace");
      await expectResponse(port, { request: { path: "/" }, namespace: ns });
      const seen = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const res = await send(port, { request: { path: "/" } });
        assert.equal(res.status, 200, res.body);
        assert.ok(res.echo, "echo body");
        const set = res.echo.headers["backend"] ?? [];
        assert.equal(set.length, 1, `expected one Backend header, got ${JSON.stringify(set)}`);
        assert.ok(res.echo.pod.startsWith(set[0]!), `pod ${res.echo.pod} got Backend: ${set[0]}`);
        seen.add(set[0]!);
      }
      // Equal weights: 100 requests reach both (chance of missing one: 2 * 2^-100).
      assert.deepEqual([...seen].sort(), ["infra-backend-v1", "infra-backend-v2"]);
    });
  },
);
