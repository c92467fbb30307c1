import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, find, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-terminate-supported" };

conformance(
  {
    name: "TLSRouteListenerTerminateSupportedKinds",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate"],
    certs: [{ namespace: INFRA_NS, name: "tls-terminate-checks-certificate", dnsNames: ["terminate.example.com", "tls.example.com"] }],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-terminate-supported, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-terminate
    port: {{port:tls}}
    protocol: TLS
    hostname: terminate.example.com
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
`,
    },
  },
  (ctx) => {
    test("the Terminate listener is Accepted with TLSRoute in supportedKinds", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          { name: "tls-terminate", supportedKinds: [{ kind: "TLSRoute" }], attachedRoutes: 0, conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }] },
        ]),
      );
    });
    // Beyond upstream: with its certificate resolved the listener is also programmed.
    test("the Terminate listener is Programmed and its certificate resolved", async () => {
      await eventually(ctx.env, (items) => {
        const l = find(items, "Gateway", gw)?.status?.listeners?.[0];
        const ok = (t: string): boolean => (l?.conditions ?? []).some((c) => c.type === t && c.status === "True");
        return ok("Programmed") && ok("ResolvedRefs") ? null : `listener conditions ${JSON.stringify(l?.conditions)}`;
      });
    });
  },
);
