import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = (name: string, ref: string): string =>
  gatewayYaml(ns, name, [`{name: https, port: {{port:${name}}}, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [${ref}]}}`]);
const cases: [string, string][] = [
  ["Nonexistent secret referenced as certificateRef", "gateway-certificate-nonexistent-secret"],
  ["Unsupported group referenced as certificateRef", "gateway-certificate-unsupported-group"],
  ["Unsupported kind referenced as certificateRef", "gateway-certificate-unsupported-kind"],
  ["Malformed secret referenced as certificateRef", "gateway-certificate-malformed-secret"],
];

conformance(
  {
    name: "GatewayInvalidTLSConfiguration",
    features: ["core"],
    manifests: {
      "case.yaml": [
        gw("gateway-certificate-nonexistent-secret", `{group: "", kind: Secret, name: nonexistent-certificate}`),
        gw("gateway-certificate-unsupported-group", `{group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate}`),
        gw("gateway-certificate-unsupported-kind", `{group: "", kind: WrongKind, name: tls-validity-checks-certificate}`),
        gw("gateway-certificate-malformed-secret", `{group: "", kind: Secret, name: malformed-certificate}`),
        `
# Not PEM ("Hello world"), and certificate and key are the same bytes.
apiVersion: v1
kind: Secret
metadata: {name: malformed-certificate, namespace: ${ns}}
type: kubernetes.io/tls
data: {tls.crt: SGVsbG8gd29ybGQK, tls.key: SGVsbG8gd29ybGQK}
`,
      ].join("---"),
    },
  },
  (ctx) => {
    for (const [title, name] of cases) {
      test(`${title}: listener has ResolvedRefs=False/InvalidCertificateRef`, async () => {
        await eventually(ctx.env, (items) =>
          gatewayListeners(items, { namespace: ns, name }, [
            { name: "https", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: [{ type: "ResolvedRefs", status: "False", reason: "InvalidCertificateRef" }] },
          ]),
        );
      });
    }
  },
);
