import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-passthrough-supported-kind" };

conformance(
  {
    name: "TLSRouteListenerPassthroughSupportedKinds",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-passthrough-supported-kind, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-passthrough
    port: {{port:tls}}
    protocol: TLS
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TCPRoute}, {kind: TLSRoute}]}
    tls: {mode: Passthrough}
`,
    },
  },
  (ctx) => {
    test("the listener keeps TLSRoute in supportedKinds and reports ResolvedRefs=False/InvalidRouteKinds for TCPRoute", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          {
            name: "tls-passthrough",
            supportedKinds: [{ kind: "TLSRoute" }],
            attachedRoutes: 0,
            conditions: [{ type: "ResolvedRefs", status: "False", reason: "InvalidRouteKinds" }],
          },
        ]),
      );
    });
  },
);
