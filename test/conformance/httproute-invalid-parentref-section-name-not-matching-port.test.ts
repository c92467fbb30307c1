import { INFRA_NS } from "./harness/env.js";
import { notAttachedCases } from "./harness/not-attached.js";
import { conformance } from "./harness/suite.js";

const gwName = "gateway-with-one-not-matching-port-and-section-name-route";
const route = { namespace: INFRA_NS, name: "httproute-listener-section-name-not-matching-port" };
const gw = { namespace: INFRA_NS, name: gwName };

conformance(
  {
    name: "HTTPRouteInvalidParentRefSectionNameNotMatchingPort",
    features: ["SupportHTTPRouteParentRefPort"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gwName}, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:${gwName}}}, protocol: HTTP, allowedRoutes: {kinds: [{kind: HTTPRoute}], namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  # The sectionName exists, but that listener is not on port 81.
  parentRefs: [{name: ${gwName}, namespace: ${INFRA_NS}, sectionName: http, port: 81}]
  rules:
  - backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]
`,
    },
  },
  (ctx) => {
    notAttachedCases(ctx, route, gw, { type: "Accepted", status: "False", reason: "NoMatchingParent" });
  },
);
