import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-invalid-cross-namespace-backend-ref-gateway" };
const route = { namespace: INFRA_NS, name: "tcp-invalid-cross-namespace-backend-ref" };

conformance(
  {
    name: "TCPRouteInvalidCrossNamespaceBackendRef",
    features: ["SupportGateway", "SupportTCPRoute", "SupportReferenceGrant (provisional)"],
    manifests: {
      "backend.yaml": l4Service(WEB_NS, "tcp-invalid-xns-backend", [{ name: "tcp", port: 3000, kind: "tcp" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-invalid-cross-namespace-backend-ref-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: tcp, protocol: TCP, port: {{port:tcp}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
---
# No ReferenceGrant: the cross-namespace backendRef is not permitted.
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-invalid-cross-namespace-backend-ref, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-invalid-cross-namespace-backend-ref-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: tcp-invalid-xns-backend, namespace: ${WEB_NS}, port: 3000}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and TCPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TCPRoute", gw, [route]);
    });
    test("TCPRoute has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TCPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
  },
);
