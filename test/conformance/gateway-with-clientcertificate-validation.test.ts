// Upstream: GatewayFrontendClientCertificateValidation. Gateway spec.tls.frontend: a default
// validation (CA tls-validity-checks-ca-certificate) and a per-port one (its own CA): each port
// accepts only clients of its CA. Ports are free ports instead of 443/8443.
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { clientPki, expectTlsFailure, expectTlsSuccess, pkiYaml } from "./harness/client-certs.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "client-validation-default" };
const pkiDefault = clientPki("default");
const pkiPerPort = clientPki("per-port");

const tlsRef = `    tls:
      certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: ${ns}}]`;

conformance(
  {
    name: "GatewayFrontendClientCertificateValidation",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportGatewayFrontendClientCertificateValidation"],
    manifests: {
      "pki.yaml": `${pkiYaml(ns, "tls-validity-checks-ca-certificate", "tls-validity-checks-client-certificate", pkiDefault)}---\n${pkiYaml(ns, "tls-validity-checks-per-port-ca-certificate", "tls-validity-checks-per-port-client-certificate", pkiPerPort)}`,
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: client-validation-default, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{kind: ConfigMap, group: "", name: tls-validity-checks-ca-certificate}]
      perPort:
      - port: {{port:per-port}}
        tls:
          validation:
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
metadata: {name: client-certificate-validation-https-test, namespace: ${ns}}
spec:
  parentRefs: [{name: client-validation-default}]
  hostnames: [example.org]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: client-certificate-validation-https-test-no-hostname, namespace: ${ns}}
spec:
  parentRefs: [{name: client-validation-default, sectionName: https-with-hostname}]
  rules:
  - backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: gw, routes: [{ namespace: ns, name: "client-certificate-validation-https-test" }, { namespace: ns, name: "client-certificate-validation-https-test-no-hostname" }] }],
  },
  (ctx) => {
    const serverCa = (): string => ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
    test("Validate default configuration", async () => {
      const port = ctx.env.port("default");
      await expectTlsSuccess(port, "example.org", serverCa(), pkiDefault.client, "infra-backend-v1");
      await expectTlsFailure(port, "example.org", serverCa(), pkiPerPort.client);
      // Beyond upstream: no certificate at all is refused too.
      await expectTlsFailure(port, "example.org", serverCa(), null);
    });
    test("Validate per port configuration", async () => {
      const port = ctx.env.port("per-port");
      await expectTlsSuccess(port, "second-example.org", serverCa(), pkiPerPort.client, "infra-backend-v2");
      await expectTlsFailure(port, "second-example.org", serverCa(), pkiDefault.client);
    });
  },
);
