import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { eventually, gatewayZeroRoutes, routeCondition, routeNoAcceptedParents } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const route = { namespace: WEB_NS, name: "invalid-cross-namespace-parent-ref" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidCrossNamespaceParentRef",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${WEB_NS}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${INFRA_NS}}]
  rules:
  - backendRefs: [{name: web-backend, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("HTTPRoute refs are resolved", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }));
    });
    test("HTTPRoute should have Accepted=False with reason NotAllowedByListeners", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("Route should not have accepted parents", async () => {
      await eventually(ctx.env, (items) => routeNoAcceptedParents(items, route));
    });
    test("Gateway should have 0 routes attached", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, gw));
    });
  },
);
