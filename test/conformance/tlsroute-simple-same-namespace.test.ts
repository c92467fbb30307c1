import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTls, expectL4, l4Pod, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute" };
const route = { namespace: INFRA_NS, name: "gateway-conformance-infra-test" };

conformance(
  {
    name: "TLSRouteSimpleSameNamespace",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "tcp-backend", [{ name: "tls", port: 8443, kind: "tls" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: https
    port: {{port:gateway-tlsroute}}
    protocol: TLS
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Passthrough}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: gateway-conformance-infra-test, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute, namespace: ${INFRA_NS}}]
  hostnames: [abc.example.com]
  rules: [{backendRefs: [{name: tcp-backend, port: 8443}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and TLSRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [route]);
    });
    test("a TLS connection with SNI abc.example.com reaches tcp-backend still encrypted, with its SNI", async () => {
      const pod = l4Pod(ctx.env, INFRA_NS, "tcp-backend-pod-0", "tls");
      // The client trusts the backend's own certificate: the handshake happened end to end.
      await expectL4(() => askTls(ctx.env.port("gateway-tlsroute"), "abc.example.com", pod.cert!.certPem), {
        backend: "tcp-backend",
        namespace: INFRA_NS,
        tls: true,
        sni: "abc.example.com",
        fingerprint: pod.fingerprint!,
      });
    });
  },
);
