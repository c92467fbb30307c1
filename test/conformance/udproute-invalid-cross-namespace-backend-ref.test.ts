import { test } from "node:test";
import { APP_NS, INFRA_NS } from "./harness/env.js";
import { l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-gateway-invalid-cross-namespace-backend-ref" };
const route = { namespace: INFRA_NS, name: "udp-route-invalid-cross-namespace-backend-ref" };

conformance(
  {
    name: "UDPRouteInvalidCrossNamespaceBackendRef",
    features: ["SupportGateway", "SupportUDPRoute", "SupportReferenceGrant (provisional)"],
    manifests: {
      "backend.yaml": l4Service(APP_NS, "udp-echo-no-reference-grant", [{ name: "udp", port: 8080, kind: "udp" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-gateway-invalid-cross-namespace-backend-ref, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: udp, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
---
# No ReferenceGrant in the backend's namespace.
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-route-invalid-cross-namespace-backend-ref, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-gateway-invalid-cross-namespace-backend-ref, sectionName: udp}]
  rules: [{backendRefs: [{name: udp-echo-no-reference-grant, namespace: ${APP_NS}, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and UDPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "UDPRoute", gw, [route]);
    });
    test("UDPRoute has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
  },
);
