import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ACCEPTED, caConfigMapsYaml, policyMustHaveCondition, RESOLVED } from "./harness/grpc.js";
import { askTls, expectL4, expectL4Refused, fingerprintOf, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

// A TLSRoute on a Terminate listener whose backend Service has a BackendTLSPolicy: the gateway opens
// TLS again towards the backend (the policy's CA and hostname). The backend pod's certificate is
// signed by the test CA for abc.example.com.
const ns = INFRA_NS;
const gw = { namespace: ns, name: "gateway-btls-tlsroute-terminate" };
const route = { namespace: ns, name: "backendtlspolicy-tlsroute-terminate" };
const mismatchRoute = { namespace: ns, name: "backendtlspolicy-tlsroute-terminate-mismatch" };
const CERT = `${ns}/tls-terminate-checks-certificate`;

const policy = (name: string, service: string, cm: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: ${service}, sectionName: btls}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ${cm}}]
    hostname: abc.example.com
`;
const tlsRoute = (name: string, listener: string, host: string, service: string): string => `
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: TLSRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${gw.name}, namespace: ${ns}, sectionName: ${listener}}]
  hostnames: [${host}]
  rules: [{backendRefs: [{name: ${service}, port: 8443}]}]
`;
const listener = (name: string, host: string): string => `  - name: ${name}
    port: {{port:${gw.name}}}
    protocol: TLS
    hostname: ${host}
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Terminate, certificateRefs: [{name: tls-terminate-checks-certificate}]}`;

conformance(
  {
    name: "BackendTLSPolicyTLSRouteTerminate",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate", "SupportBackendTLSPolicy (provisional)"],
    certs: [{ namespace: ns, name: "tls-terminate-checks-certificate", dnsNames: ["tls.example.com", "mismatch.example.com"] }],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "backends.yaml":
        l4Service(ns, "btls-terminate-tcp-backend", [{ name: "btls", port: 8443, kind: "btls" }]) +
        l4Service(ns, "btls-terminate-mismatch-backend", [{ name: "btls", port: 8443, kind: "btls" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gw.name}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${listener("tls-terminate", "tls.example.com")}
${listener("tls-terminate-mismatch", "mismatch.example.com")}
---${tlsRoute(route.name, "tls-terminate", "tls.example.com", "btls-terminate-tcp-backend")}---${tlsRoute(mismatchRoute.name, "tls-terminate-mismatch", "mismatch.example.com", "btls-terminate-mismatch-backend")}
---${policy("btls-tlsroute-terminate-test", "btls-terminate-tcp-backend", "tls-checks-ca-certificate")}
---${policy("btls-tlsroute-terminate-mismatch", "btls-terminate-mismatch-backend", "mismatch-ca-certificate")}`,
    },
  },
  (ctx) => {
    test("Gateway and TLSRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [route, mismatchRoute], true);
    });

    test("the BackendTLSPolicy is Accepted with resolved refs for the Gateway", async () => {
      const p = { namespace: ns, name: "btls-tlsroute-terminate-test" };
      await policyMustHaveCondition(ctx.env, p, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, p, gw, RESOLVED);
    });

    test("TLS request matching terminated TLSRoute with BackendTLSPolicy should reach backend with re-encrypted TLS", async () => {
      const pem = ctx.env.certs.get(CERT)!.certPem;
      await expectL4(() => askTls(ctx.env.port(gw.name), "tls.example.com", pem), {
        backend: "btls-terminate-tcp-backend",
        namespace: ns,
        tls: true,
        sni: "abc.example.com",
        // The client was answered by the listener's certificate: the gateway terminated and re-encrypted.
        fingerprint: fingerprintOf(pem),
      });
    });

    // Beyond upstream: re-encryption verifies the backend. A policy trusting another CA must not
    // let the connection through (nor fall back to plaintext).
    test("a backend whose certificate the policy's CA did not sign is refused", async () => {
      const p = { namespace: ns, name: "btls-tlsroute-terminate-mismatch" };
      await policyMustHaveCondition(ctx.env, p, gw, ACCEPTED);
      const pem = ctx.env.certs.get(CERT)!.certPem;
      await expectL4Refused(() => askTls(ctx.env.port(gw.name), "mismatch.example.com", pem));
    });
  },
);
