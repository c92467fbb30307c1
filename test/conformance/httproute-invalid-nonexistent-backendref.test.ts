import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, mustBeAccepted, routeCondition } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "invalid-nonexistent-backend-ref" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidNonExistentBackendRef",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: nonexistent, namespace: ${INFRA_NS}, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [route]);
    });
    test("HTTPRoute with only a nonexistent backendRef has ResolvedRefs=False/BackendNotFound", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "False", reason: "BackendNotFound" }));
    });
    expectCases(ctx, "same-namespace", [{ name: "HTTP request to a nonexistent backend receives a 500", request: { path: "/" }, status: 500 }]);
  },
);
