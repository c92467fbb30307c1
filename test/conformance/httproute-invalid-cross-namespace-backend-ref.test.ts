import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { eventually, mustBeAccepted, routeCondition } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "invalid-cross-namespace-backend-ref" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidCrossNamespaceBackendRef",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: web-backend, namespace: ${WEB_NS}, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [route]);
    });
    test("HTTPRoute with a cross-namespace backendRef and no ReferenceGrant has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
    expectCases(ctx, "same-namespace", [{ name: "HTTP request to invalid cross-namespace backend must receive a 500", request: { path: "/" }, status: 500 }]);
  },
);
