import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4RouteCondition } from "./harness/l4.js";
import { eventually, gatewayZeroRoutes } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udproute-tls-only-gateway" };
const route = { namespace: INFRA_NS, name: "udproute-not-allowed-by-listeners" };

conformance(
  {
    name: "UDPRouteNotAllowedByListeners",
    features: ["SupportUDPRoute", "SupportTLSRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udproute-tls-only-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls
    port: {{port:udproute-tls-only-gateway}}
    protocol: TLS
    tls: {mode: Passthrough}
    allowedRoutes: {kinds: [{kind: TLSRoute}]}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udproute-not-allowed-by-listeners, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udproute-tls-only-gateway}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("UDPRoute is Accepted=False/NotAllowedByListeners", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", route, gw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("Gateway has 0 routes attached on the TLS listener", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, gw));
    });
  },
);
