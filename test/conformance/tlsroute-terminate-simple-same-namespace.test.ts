import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTls, expectL4, fingerprintOf, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-terminate" };
const route = { namespace: INFRA_NS, name: "tlsroute-terminated-test" };
const CERT = `${INFRA_NS}/tls-terminate-checks-certificate`;

conformance(
  {
    name: "TLSRouteTerminateSimpleSameNamespace",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate (provisional)"],
    certs: [{ namespace: INFRA_NS, name: "tls-terminate-checks-certificate", dnsNames: ["tls.example.com", "terminate.example.com"] }],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "tcp-backend", [
        { name: "plain", port: 3000, kind: "tcp" },
        { name: "tls", port: 8443, kind: "tls" },
      ]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tlsroute-terminated-test, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute-terminate, namespace: ${INFRA_NS}}]
  hostnames: [tls.example.com]
  rules: [{backendRefs: [{name: tcp-backend, port: 3000}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-terminate, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tlsterminate
    port: {{port:gateway-tlsroute-terminate}}
    protocol: TLS
    hostname: tls.example.com
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
`,
    },
  },
  (ctx) => {
    test("Gateway and TLSRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [route]);
    });
    test("a TLS connection for tls.example.com is terminated by the gateway and reaches tcp-backend as plaintext", async () => {
      const pem = ctx.env.certs.get(CERT)!.certPem;
      await expectL4(() => askTls(ctx.env.port("gateway-tlsroute-terminate"), "tls.example.com", pem), {
        backend: "tcp-backend",
        namespace: INFRA_NS,
        tls: false,
        sni: null,
        // The client was answered with the listener's certificate, not a backend's.
        fingerprint: fingerprintOf(pem),
      });
    });
  },
);
