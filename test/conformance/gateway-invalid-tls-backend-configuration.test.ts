// Upstream: GatewayInvalidTLSBackendConfiguration. A Gateway whose spec.tls.backend.clientCertificateRef
// cannot be used (missing Secret, another group or kind, a Secret without tls.crt/tls.key, another
// namespace without a ReferenceGrant) is still Accepted, with ResolvedRefs False and the reason.
import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { eventually, find, gatewayCondition, latestGeneration } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;

const gateway = (name: string, ref: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:${name}}}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
  tls:
    backend:
      clientCertificateRef: ${ref}
`;

const cases = [
  { name: "Nonexistent secret referenced as ClientCertificateRef in Gateway backend TLS configuration", gw: "gateway-client-certificate-nonexistent-secret", ref: `{group: "", kind: Secret, name: nonexistent-certificate}`, reason: "InvalidClientCertificateRef" },
  { name: "Unsupported group resource referenced as ClientCertificateRef in Gateway backend TLS configuration", gw: "gateway-client-certificate-unsupported-group", ref: `{group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate}`, reason: "InvalidClientCertificateRef" },
  { name: "Unsupported kind resource referenced as ClientCertificateRef inGateway backend TLS configuration", gw: "gateway-client-certificate-unsupported-kind", ref: `{group: "", kind: WrongKind, name: tls-validity-checks-certificate}`, reason: "InvalidClientCertificateRef" },
  { name: "Malformed secret referenced as ClientCertificateRef in Gateway backend TLS configuration", gw: "gateway-client-certificate-malformed-secret", ref: `{group: "", kind: Secret, name: malformed-client-certificate}`, reason: "InvalidClientCertificateRef" },
  { name: "Secret referenced from another namespace without any ReferenceGrant as ClientCertificateRef in Gateway backend TLS configuration", gw: "gateway-client-certificate-missing-reference-grant", ref: `{group: "", kind: Secret, name: certificate, namespace: ${WEB_NS}}`, reason: "RefNotPermitted" },
];

conformance(
  {
    name: "GatewayInvalidTLSBackendConfiguration",
    features: ["SupportGateway", "SupportGatewayBackendClientCertificate", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "case.yaml": [
        ...cases.map((c) => gateway(c.gw, c.ref)),
        `apiVersion: v1
kind: Secret
metadata: {name: malformed-client-certificate, namespace: ${ns}}
data: {}
type: Opaque
`,
      ].join("---\n"),
    },
  },
  (ctx) => {
    for (const c of cases) {
      test(c.name, async () => {
        const nn = { namespace: ns, name: c.gw };
        await eventually(ctx.env, (items) => {
          const g = find(items, "Gateway", nn);
          return (
            (g ? latestGeneration(g, g.status?.conditions) : `Gateway ${c.gw} not in /status`) ??
            gatewayCondition(items, nn, { type: "ResolvedRefs", status: "False", reason: c.reason }) ??
            gatewayCondition(items, nn, { type: "Accepted", status: "True", reason: "Accepted" })
          );
        });
      });
    }
  },
);
