import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, find, listenersHaveConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-terminate-unsupported" };

conformance(
  {
    name: "TLSRouteListenerTerminateNotSupported",
    features: ["SupportTLSRoute", "not SupportTLSRouteModeTerminate"],
    certs: [{ namespace: INFRA_NS, name: "tls-terminate-checks-certificate", dnsNames: ["terminate.example.com"] }],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-terminate-unsupported, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-terminate
    port: {{port:gateway-tlsroute-terminate-unsupported}}
    protocol: TLS
    hostname: terminate.example.com
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
`,
    },
  },
  (ctx) => {
    test("listener with mode Terminate is Accepted=False/UnsupportedValue with 0 routes", async () => {
      await eventually(ctx.env, (items) => {
        const d = listenersHaveConditions(items, gw, [{ type: "Accepted", status: "False", reason: "UnsupportedValue" }], ["tls-terminate"]);
        if (d) return d;
        const l = find(items, "Gateway", gw)?.status?.listeners?.find((x) => x.name === "tls-terminate");
        return l?.attachedRoutes === 0 ? null : `attachedRoutes ${l?.attachedRoutes}`;
      });
    });
  },
);
