// Upstream: GatewayFrontendInvalidDefaultClientCertificateValidation. The default validation names a
// ConfigMap that does not exist: the HTTPS listener is not accepted (NoValidCACertificate, ResolvedRefs
// InvalidCACertificateRef) and serves nothing, while the HTTP listener (whose port has a per-port
// entry, which HTTP ignores) is untouched and serves its route.
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { clientPki, expectTlsFailure, pkiYaml } from "./harness/client-certs.js";
import { expectResponse } from "./harness/http.js";
import { eventually, listenersHaveConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "invalid-default-client-validation-config" };
const pkiPerPort = clientPki("per-port");

conformance(
  {
    name: "GatewayFrontendInvalidDefaultClientCertificateValidation",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportGatewayFrontendClientCertificateValidation"],
    manifests: {
      "pki.yaml": pkiYaml(ns, "tls-validity-checks-per-port-ca-certificate", "tls-validity-checks-per-port-client-certificate", pkiPerPort),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: invalid-default-client-validation-config, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  tls:
    frontend:
      default:
        validation:
          caCertificateRefs: [{kind: ConfigMap, group: "", name: does-not-exist}]
      perPort:
      - port: {{port:http}}
        tls:
          validation:
            caCertificateRefs: [{kind: ConfigMap, group: "", name: tls-validity-checks-per-port-ca-certificate}]
  listeners:
  - name: https
    port: {{port:https}}
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls:
      certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: ${ns}}]
  - name: http
    port: {{port:http}}
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Same}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: invalid-default-client-validation-config, namespace: ${ns}}
spec:
  parentRefs: [{name: invalid-default-client-validation-config}]
  hostnames: [example.org]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Validate tls configuration does not impact HTTP listener", async () => {
      await eventually(ctx.env, (items) =>
        listenersHaveConditions(items, gw, [{ type: "ResolvedRefs", status: "True" }, { type: "Accepted", status: "True" }, { type: "Programmed", status: "True" }], ["http"]),
      );
      await expectResponse(ctx.env.port("http"), { request: { host: "example.org", path: "/" }, backend: "infra-backend-v1", namespace: ns });
    });
    test("Validate that invalid default configuration is impacting HTTPS listener", async () => {
      await eventually(ctx.env, (items) =>
        listenersHaveConditions(
          items,
          gw,
          [
            { type: "ResolvedRefs", status: "False", reason: "InvalidCACertificateRef" },
            { type: "Accepted", status: "False", reason: "NoValidCACertificate" },
            { type: "Programmed", status: "False" },
          ],
          ["https"],
        ),
      );
      const serverCa = ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
      await expectTlsFailure(ctx.env.port("https"), "example.org", serverCa, null);
    });
  },
);
