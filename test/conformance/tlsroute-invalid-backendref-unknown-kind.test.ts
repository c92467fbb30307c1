import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectTlsRejected, l4RouteCondition, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-invalid-backend-ref-unknown-kind" };
const route = { namespace: INFRA_NS, name: "invalid-backend-ref-unknown-kind" };

conformance(
  {
    name: "TLSRouteInvalidBackendRefUnknownKind",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-invalid-backend-ref-unknown-kind, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls
    protocol: TLS
    port: {{port:tls}}
    allowedRoutes: {namespaces: {from: Same}}
    tls: {mode: Passthrough}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: invalid-backend-ref-unknown-kind, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute-invalid-backend-ref-unknown-kind, namespace: ${INFRA_NS}}]
  hostnames: [example.com]
  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: tls-backend, port: 443}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and TLSRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [route]);
    });
    test("TLSRoute has ResolvedRefs=False/InvalidKind", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "InvalidKind" }));
    });
    test("a TLS connection for example.com is rejected", async () => {
      await expectTlsRejected(ctx.env.port("tls"), "example.com");
    });
  },
);
