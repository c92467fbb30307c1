import { test } from "node:test";
import { APP_NS, INFRA_NS } from "./harness/env.js";
import { eventually, mustBeAccepted, routeCondition } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "invalid-reference-grant" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "case.yaml": `
# Grants app-backend-v1 only; the route also points at app-backend-v2.
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: invalid-reference-grant, namespace: ${APP_NS}}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${INFRA_NS}}]
  to: [{group: "", kind: Service, name: app-backend-v1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: invalid-reference-grant, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: app-backend-v2, namespace: ${APP_NS}, port: 8080}]
  - backendRefs: [{name: app-backend-v1, namespace: ${APP_NS}, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [route]);
    });
    test("HTTPRoute with a backendRef not covered by a ReferenceGrant has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
    expectCases(ctx, "same-namespace", [
      { name: "HTTP request to the backend without a grant should receive a 500", request: { path: "/v2" }, status: 500 },
      { name: "HTTP request to the valid sibling backend should succeed", request: { path: "/" }, backend: "app-backend-v1", namespace: APP_NS },
    ]);
  },
);
