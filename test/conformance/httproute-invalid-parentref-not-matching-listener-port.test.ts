import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { notAttachedCases } from "./harness/not-attached.js";
import { eventually, routeCondition } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "httproute-listener-not-matching-route-port" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidParentRefNotMatchingListenerPort",
    features: ["SupportHTTPRouteDestinationPortMatching"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  # No listener of same-namespace has port 81.
  parentRefs: [{name: same-namespace, namespace: ${INFRA_NS}, port: 81}]
  rules:
  - backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("HTTPRoute refs are resolved", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }));
    });
    notAttachedCases(ctx, route, gw, { type: "Accepted", status: "False", reason: "NoMatchingParent" });
  },
);
