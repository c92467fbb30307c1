import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, mustBeAccepted, routeCondition } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "invalid-backend-ref-unknown-kind" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidBackendRefUnknownKind",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [route]);
    });
    test("HTTPRoute with an unknown backendRef kind has ResolvedRefs=False/InvalidKind", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "False", reason: "InvalidKind" }));
    });
    expectCases(ctx, "same-namespace", [{ name: "HTTP request to a backend of unknown kind receives a 500", request: { path: "/v2" }, status: 500 }]);
  },
);
