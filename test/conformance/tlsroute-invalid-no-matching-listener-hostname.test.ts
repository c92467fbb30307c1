import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4NoAcceptedParents, l4RouteCondition } from "./harness/l4.js";
import { eventually, gatewayZeroRoutes } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const exactGw = { namespace: INFRA_NS, name: "gateway-tls-exact-hostname" };
const wildcardGw = { namespace: INFRA_NS, name: "gateway-tls-wildcard-hostname" };
const route1 = { namespace: INFRA_NS, name: "tlsroute-hostname-mismatch-1" };
const route2 = { namespace: INFRA_NS, name: "tlsroute-hostname-mismatch-2" };
const noMatch = { type: "Accepted", status: "False", reason: "NoMatchingListenerHostname" } as const;

const gateway = (name: string, hostname: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls
    port: {{port:${name}}}
    protocol: TLS
    hostname: "${hostname}"
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Passthrough}
---`;

conformance(
  {
    name: "TLSRouteInvalidNoMatchingListenerHostname",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "case.yaml": `${gateway("gateway-tls-exact-hostname", "www.example.com")}
${gateway("gateway-tls-wildcard-hostname", "*.example.com")}
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tlsroute-hostname-mismatch-1, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tls-exact-hostname}]
  hostnames: [www.nomatch.com, "*.nomatch.com"]
  rules: [{backendRefs: [{name: tls-backend, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tlsroute-hostname-mismatch-2, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: gateway-tls-wildcard-hostname}]
  hostnames: [www.different.com, "*.different.com"]
  rules: [{backendRefs: [{name: tls-backend, port: 443}]}]
`,
    },
  },
  (ctx) => {
    test("TLSRoute 1 has Accepted=False/NoMatchingListenerHostname for the exact hostname Gateway", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", route1, exactGw, noMatch));
    });
    test("TLSRoute 2 has Accepted=False/NoMatchingListenerHostname for the wildcard hostname Gateway", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", route2, wildcardGw, noMatch));
    });
    test("neither TLSRoute has an accepted parent", async () => {
      await eventually(ctx.env, (items) => l4NoAcceptedParents(items, "TLSRoute", route1) ?? l4NoAcceptedParents(items, "TLSRoute", route2));
    });
    test("both Gateways have 0 routes attached", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, exactGw) ?? gatewayZeroRoutes(items, wildcardGw));
    });
  },
);
