// Upstream: GatewayTLSBackendClientCertificate. A Gateway with spec.tls.backend.clientCertificateRef
// presents that certificate to a TLS backend (BackendTLSPolicy) that requires one. Differences: the
// backend "pod" is an in-process HTTPS server that requires a client certificate and answers with
// the one it got; the client certificate is signed by a CA of this test (upstream signs it with the
// suite's tls-checks CA, whose key our harness does not keep).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { clientPki, startClientCertBackend } from "./harness/client-certs.js";
import { tlsSecretYaml } from "./harness/certs.js";
import { ACCEPTED, caConfigMapsYaml, policyMustHaveCondition, testCa } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { eventually, gatewayCondition } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "gateway-tls-backend-client-certificate" };
const pki = clientPki("gateway");
const ca = testCa();
const backend = await startClientCertBackend({ server: { certPem: ca.certPem, keyPem: ca.keyPem }, clientCa: pki.ca.certPem, namespace: ns, pod: "tls-backend-with-client-cert-validation-pod-0" });
after(() => backend.close());

conformance(
  {
    name: "GatewayTLSBackendClientCertificate",
    features: ["SupportGateway", "SupportGatewayBackendClientCertificate", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "client.yaml": tlsSecretYaml(ns, "tls-checks-client-certificate", pki.client),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tls-backend-client-certificate, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:gw}}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
  tls:
    backend:
      clientCertificateRef: {group: "", kind: Secret, name: tls-checks-client-certificate}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: gateway-tls-backend-client-certificate, namespace: ${ns}}
spec:
  parentRefs: [{name: gateway-tls-backend-client-certificate, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
  - backendRefs: [{group: "", kind: Service, name: tls-backend-with-client-cert-validation, port: 443}]
    matches: [{path: {type: Exact, value: /}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: gateway-tls-backend-client-certificate-test, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: tls-backend-with-client-cert-validation}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: tls-checks-ca-certificate}]
    hostname: abc.example.com
---
apiVersion: v1
kind: Service
metadata: {name: tls-backend-with-client-cert-validation, namespace: ${ns}}
spec:
  ports: [{name: https, protocol: TCP, port: 443}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: tls-backend-with-client-cert-validation-slice, namespace: ${ns}, labels: {kubernetes.io/service-name: tls-backend-with-client-cert-validation}}
addressType: IPv4
ports: [{name: https, protocol: TCP, port: ${backend.port}}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
`,
    },
    accepted: [{ gateway: gw, routes: [{ namespace: ns, name: "gateway-tls-backend-client-certificate" }] }],
  },
  (ctx) => {
    test("HTTP request sent to Service using TLS should succeed and the configured client certificate should be presented.", async () => {
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "gateway-tls-backend-client-certificate-test" }, gw, ACCEPTED);
      await eventually(ctx.env, (items) => gatewayCondition(items, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }));
      const res = await expectResponse(ctx.env.port("gw"), { request: { path: "/", host: "abc.example.com" }, namespace: ns, backend: "tls-backend-with-client-cert-validation" });
      const seen = (JSON.parse(res.body) as { clientCert: string }).clientCert;
      assert.equal(seen.trim(), pki.client.certPem.trim(), "the backend got the Gateway's client certificate");
    });
  },
);
