import { test } from "node:test";
import { APP_NS, INFRA_NS } from "./harness/env.js";
import { l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-tlsroute-referencegrant" };
const route = { namespace: INFRA_NS, name: "gateway-conformance-infra-test" };

// Every grant misses in one way: wrong namespace, from group, from kind, from namespace, to group,
// to kind, to name.
const grant = (name: string, ns: string, from: string, to: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: ${name}, namespace: ${ns}}
spec:
  from: [${from}]
  to: [${to}]
---`;
const okFrom = `{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: ${INFRA_NS}}`;
const okTo = `{group: "", kind: Service, name: tls-backend}`;

conformance(
  {
    name: "TLSRouteInvalidReferenceGrant",
    features: ["SupportGateway", "SupportTLSRoute", "SupportReferenceGrant"],
    manifests: {
      "backend.yaml": l4Service(APP_NS, "tls-backend", [{ name: "tls", port: 443, kind: "tls" }]),
      "case.yaml": [
        grant("reference-grant-wrong-namespace", INFRA_NS, okFrom, okTo),
        grant("reference-grant-wrong-from-group", APP_NS, `{group: not-the-group-youre-looking-for, kind: TLSRoute, namespace: ${INFRA_NS}}`, okTo),
        grant("reference-grant-wrong-from-kind", APP_NS, `{group: gateway.networking.k8s.io, kind: Gateway, namespace: ${INFRA_NS}}`, okTo),
        grant("reference-grant-wrong-from-namespace", APP_NS, `{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: not-the-namespace-youre-looking-for}`, okTo),
        grant("reference-grant-wrong-to-group", APP_NS, okFrom, `{group: not-the-group-youre-looking-for, kind: Service, name: tls-backend}`),
        grant("reference-grant-wrong-to-kind", APP_NS, okFrom, `{group: "", kind: Secret, name: tls-backend}`),
        grant("reference-grant-wrong-to-name", APP_NS, okFrom, `{group: "", kind: Service, name: not-the-service-youre-looking-for}`),
        `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: gateway-conformance-infra-test, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tlsroute-referencegrant}]
  hostnames: [abc.example.com]
  rules: [{backendRefs: [{name: tls-backend, namespace: ${APP_NS}, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-referencegrant, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: https
    port: {{port:https}}
    protocol: TLS
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Passthrough}
`,
      ].join("\n"),
    },
  },
  (ctx) => {
    test("Gateway and TLSRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TLSRoute", gw, [route]);
    });
    test("TLSRoute has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
  },
);
