import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTls, expectL4, fingerprintOf, l4Pod, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-mixed-termination" };
const terminateRoute = { namespace: INFRA_NS, name: "gateway-conformance-mixed-terminateroute" };
const passthroughRoute = { namespace: INFRA_NS, name: "gateway-conformance-mixed-passthroughroute" };
const CERT = `${INFRA_NS}/tls-terminate-checks-certificate`;

conformance(
  {
    name: "TLSRouteMixedTerminationSameNamespace",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate", "SupportTLSRouteModeMixed (provisional)"],
    certs: [{ namespace: INFRA_NS, name: "tls-terminate-checks-certificate", dnsNames: ["tls.example.com"] }],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "tcp-backend", [
        { name: "plain", port: 3000, kind: "tcp" },
        { name: "tls", port: 8443, kind: "tls" },
      ]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-mixed-termination, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-terminate
    port: {{port:mixed}}
    protocol: TLS
    hostname: tls.example.com
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}
  - name: tls-passthrough
    port: {{port:mixed}}
    protocol: TLS
    hostname: abc.example.com
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Passthrough}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: gateway-conformance-mixed-passthroughroute, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute-mixed-termination, namespace: ${INFRA_NS}}]
  hostnames: [abc.example.com]
  rules: [{backendRefs: [{name: tcp-backend, port: 8443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: gateway-conformance-mixed-terminateroute, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute-mixed-termination, namespace: ${INFRA_NS}}]
  hostnames: [tls.example.com]
  rules: [{backendRefs: [{name: tcp-backend, port: 3000}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and both TLSRoutes are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [passthroughRoute, terminateRoute]);
    });
    test("both listeners are Accepted with TLSRoute supported and 1 route each", async () => {
      const l = (name: string) => ({ name, supportedKinds: [{ kind: "TLSRoute" }], attachedRoutes: 1, conditions: [{ type: "Accepted", status: "True" as const, reason: "Accepted" }] });
      await eventually(ctx.env, (items) => gatewayListeners(items, gw, [l("tls-terminate"), l("tls-passthrough")]));
    });
    test("SNI tls.example.com is terminated by the gateway and reaches tcp-backend as plaintext", async () => {
      const pem = ctx.env.certs.get(CERT)!.certPem;
      await expectL4(() => askTls(ctx.env.port("mixed"), "tls.example.com", pem), { backend: "tcp-backend", namespace: INFRA_NS, tls: false, sni: null, fingerprint: fingerprintOf(pem) });
    });
    test("SNI abc.example.com on the same port passes through to tcp-backend's TLS port", async () => {
      const pod = l4Pod(ctx.env, INFRA_NS, "tcp-backend-pod-0", "tls");
      await expectL4(() => askTls(ctx.env.port("mixed"), "abc.example.com", pod.cert!.certPem), {
        backend: "tcp-backend",
        namespace: INFRA_NS,
        tls: true,
        sni: "abc.example.com",
        fingerprint: pod.fingerprint!,
      });
    });
  },
);
