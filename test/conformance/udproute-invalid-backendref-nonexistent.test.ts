import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4RouteCondition } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-gateway-invalid-backend" };
const route = { namespace: INFRA_NS, name: "udp-route-invalid-backend-ref-nonexistent" };

conformance(
  {
    name: "UDPRouteInvalidBackendRefNonexistent",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-gateway-invalid-backend, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: udp, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-route-invalid-backend-ref-nonexistent, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-gateway-invalid-backend, sectionName: udp}]
  rules: [{backendRefs: [{name: nonexistent-service, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("UDPRoute has ResolvedRefs=False/BackendNotFound", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "BackendNotFound" }));
    });
  },
);
