// Upstream: GatewayFrontendClientCertificateValidationInsecureFallback. Mode AllowInsecureFallback on
// the default and per-port validation: matching, non-matching and missing client certificates all
// get through, and the Gateway says so with InsecureFrontendValidationMode.
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { clientPki, expectTlsSuccess, pkiYaml } from "./harness/client-certs.js";
import { eventually, gatewayCondition } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "client-validation-insecure-fallback" };
const pkiDefault = clientPki("default");
const pkiPerPort = clientPki("per-port");

const tlsRef = `    tls:
      certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: ${ns}}]`;

conformance(
  {
    name: "GatewayFrontendClientCertificateValidationInsecureFallback",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportGatewayFrontendClientCertificateValidation", "SupportGatewayFrontendClientCertificateValidationInsecureFallback"],
    manifests: {
      "pki.yaml": `${pkiYaml(ns, "tls-validity-checks-ca-certificate", "tls-validity-checks-client-certificate", pkiDefault)}---\n${pkiYaml(ns, "tls-validity-checks-per-port-ca-certificate", "tls-validity-checks-per-port-client-certificate", pkiPerPort)}`,
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: client-validation-insecure-fallback, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  tls:
    frontend:
      default:
        validation:
          mode: AllowInsecureFallback
          caCertificateRefs: [{kind: ConfigMap, group: "", name: tls-validity-checks-ca-certificate}]
      perPort:
      - port: {{port:per-port}}
        tls:
          validation:
            mode: AllowInsecureFallback
            caCertificateRefs: [{kind: ConfigMap, group: "", name: tls-validity-checks-per-port-ca-certificate}]
  listeners:
  - name: https
    port: {{port:default}}
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
${tlsRef}
  - name: https-with-hostname
    port: {{port:per-port}}
    hostname: second-example.org
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
${tlsRef}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: client-cert-validation-insecure-fallback-test, namespace: ${ns}}
spec:
  parentRefs: [{name: client-validation-insecure-fallback}]
  hostnames: [example.org]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: client-cert-validation-insecure-fallback-test-no-hostname, namespace: ${ns}}
spec:
  parentRefs: [{name: client-validation-insecure-fallback, sectionName: https-with-hostname}]
  rules:
  - backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: gw, routes: [{ namespace: ns, name: "client-cert-validation-insecure-fallback-test" }, { namespace: ns, name: "client-cert-validation-insecure-fallback-test-no-hostname" }] }],
  },
  (ctx) => {
    const serverCa = (): string => ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
    test("Validate InsecureFrontendValidationMode status condition on the Gateway", async () => {
      await eventually(ctx.env, (items) => gatewayCondition(items, gw, { type: "InsecureFrontendValidationMode", status: "True", reason: "ConfigurationChanged" }));
    });
    test("Validate default TLS configuration", async () => {
      const port = ctx.env.port("default");
      await expectTlsSuccess(port, "example.org", serverCa(), pkiDefault.client, "infra-backend-v1");
      await expectTlsSuccess(port, "example.org", serverCa(), pkiPerPort.client, "infra-backend-v1");
      await expectTlsSuccess(port, "example.org", serverCa(), null, "infra-backend-v1");
    });
    test("Validate per port TLS configuration", async () => {
      const port = ctx.env.port("per-port");
      await expectTlsSuccess(port, "second-example.org", serverCa(), pkiPerPort.client, "infra-backend-v2");
      await expectTlsSuccess(port, "second-example.org", serverCa(), pkiDefault.client, "infra-backend-v2");
      await expectTlsSuccess(port, "second-example.org", serverCa(), null, "infra-backend-v2");
    });
  },
);
