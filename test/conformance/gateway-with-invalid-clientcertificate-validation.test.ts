// Upstream: GatewayInvalidFrontendClientCertificateValidation. Invalid per-port validation (a missing
// ConfigMap, a Service as CA, a ConfigMap in another namespace without a ReferenceGrant) affects only
// the listeners of that port; the default one stays valid.
import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { clientPki, pkiYaml } from "./harness/client-certs.js";
import { eventually, listenersHaveConditions, type Cond } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "gateway-with-invalid-client-cert-validation" };
const pki = clientPki("default");

const listener = (name: string, key: string, hostname?: string): string => `  - name: ${name}
    port: {{port:${key}}}
${hostname ? `    hostname: ${hostname}\n` : ""}    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls:
      certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: ${ns}}]`;

const invalid = (reason: string): Cond[] => [
  { type: "ResolvedRefs", status: "False", reason },
  { type: "Accepted", status: "False", reason: "NoValidCACertificate" },
  { type: "Programmed", status: "False" },
];

conformance(
  {
    name: "GatewayInvalidFrontendClientCertificateValidation",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportReferenceGrant", "SupportGatewayFrontendClientCertificateValidation"],
    manifests: {
      "pki.yaml": pkiYaml(ns, "tls-validity-checks-ca-certificate", "tls-validity-checks-client-certificate", pki),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-with-invalid-client-cert-validation, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{kind: ConfigMap, group: "", name: tls-validity-checks-ca-certificate}]
      perPort:
      - port: {{port:unresolved}}
        tls:
          validation:
            caCertificateRefs: [{kind: ConfigMap, group: "", name: non-exisitng-cm}]
      - port: {{port:invalid-kind}}
        tls:
          validation:
            caCertificateRefs: [{kind: Service, group: "", name: infra-backend-v2}]
      - port: {{port:grant-missing}}
        tls:
          validation:
            caCertificateRefs: [{kind: ConfigMap, group: "", name: web-backend-cm, namespace: ${WEB_NS}}]
  listeners:
${listener("https", "default")}
${listener("https-unresolved", "unresolved", "first-example.org")}
${listener("https-invalid-kind", "invalid-kind", "second-example.org")}
${listener("https-grant-missing", "grant-missing", "fourth-example.org")}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: misconfigured-client-certificate-validation-https-test, namespace: ${ns}}
spec:
  parentRefs: [{name: client-validation-invalid}]
  hostnames: [example.org]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
    },
  },
  (ctx) => {
    const cases: { name: string; listener: string; conditions: Cond[] }[] = [
      { name: "default valid configuration", listener: "https", conditions: [{ type: "ResolvedRefs", status: "True" }, { type: "Accepted", status: "True" }, { type: "Programmed", status: "True" }] },
      { name: "unresolved reference", listener: "https-unresolved", conditions: invalid("InvalidCACertificateRef") },
      { name: "invalid kind", listener: "https-invalid-kind", conditions: invalid("InvalidCACertificateKind") },
      { name: "reference grant missing", listener: "https-grant-missing", conditions: invalid("RefNotPermitted") },
    ];
    for (const c of cases) {
      test(`Validate status for invalid client certificate configuration: ${c.name}`, async () => {
        await eventually(ctx.env, (items) => listenersHaveConditions(items, gw, c.conditions, [c.listener]));
      });
    }
  },
);
