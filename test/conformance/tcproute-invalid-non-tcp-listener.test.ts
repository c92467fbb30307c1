import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4RouteCondition } from "./harness/l4.js";
import { eventually, gatewayZeroRoutes } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-mixed-protocol-gateway" };
const route = { namespace: INFRA_NS, name: "tcp-route" };

conformance(
  {
    name: "TCPRouteInvalidNonTCPListener",
    features: ["SupportTCPRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-mixed-protocol-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:tcp-mixed-protocol-gateway}}, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-route, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-mixed-protocol-gateway, sectionName: http}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("TCPRoute on a non-TCP listener is Accepted=False/NotAllowedByListeners", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TCPRoute", route, gw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("Gateway has 0 routes attached", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, gw));
    });
  },
);
