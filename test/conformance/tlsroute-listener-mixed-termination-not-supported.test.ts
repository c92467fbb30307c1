import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, find, listenersHaveConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-mixed-termination-not-supported" };

conformance(
  {
    name: "TLSRouteListenerMixedTerminationNotSupported",
    features: ["SupportTLSRoute", "not SupportTLSRouteModeMixed"],
    certs: [{ namespace: INFRA_NS, name: "tls-terminate-checks-certificate", dnsNames: ["terminate.example.com"] }],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-mixed-termination-not-supported, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-terminate
    port: {{port:mixed}}
    protocol: TLS
    hostname: terminate.example.com
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
  - name: tls-passthrough
    port: {{port:mixed}}
    protocol: TLS
    hostname: passthrough.example.com
    tls: {mode: Passthrough}
`,
    },
  },
  (ctx) => {
    test("both listeners are Accepted=False/ProtocolConflict with 0 routes", async () => {
      await eventually(ctx.env, (items) => {
        const d = listenersHaveConditions(items, gw, [{ type: "Accepted", status: "False", reason: "ProtocolConflict" }], ["tls-terminate", "tls-passthrough"]);
        if (d) return d;
        const ls = find(items, "Gateway", gw)?.status?.listeners ?? [];
        return ls.every((l) => l.attachedRoutes === 0) ? null : JSON.stringify(ls.map((l) => l.attachedRoutes));
      });
    });
  },
);
