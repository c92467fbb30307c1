import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4NoAcceptedParents, l4RouteCondition } from "./harness/l4.js";
import { eventually, gatewayZeroRoutes } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const passthroughGw = { namespace: INFRA_NS, name: "gateway-tlsroute-tls-passthrough-only" };
const httpGw = { namespace: INFRA_NS, name: "gateway-tlsroute-http-only" };
const httpsGw = { namespace: INFRA_NS, name: "gateway-tlsroute-https-only" };
const onHttp = { namespace: INFRA_NS, name: "tlsroute-not-allowed-protocol-http" };
const onHttps = { namespace: INFRA_NS, name: "tlsroute-not-allowed-protocol-https" };
const noSection = { namespace: INFRA_NS, name: "tlsroute-no-matching-section-name" };

const tlsRoute = (name: string, parent: string, section = ""): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: ${name}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: ${parent}${section ? `, sectionName: ${section}` : ""}}]
  hostnames: [tls.example.com]
  rules: [{backendRefs: [{name: tls-backend, port: 443}]}]
---`;

conformance(
  {
    name: "TLSRouteInvalidNoMatchingListener",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-tls-passthrough-only, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: tls-passthrough
    protocol: TLS
    port: {{port:passthrough}}
    allowedRoutes: {namespaces: {from: Same}}
    tls: {mode: Passthrough}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-http-only, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:http}}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-tlsroute-https-only, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: https
    port: {{port:https}}
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls: {mode: Terminate, certificateRefs: [{name: tls-validity-checks-certificate, namespace: ${INFRA_NS}}]}
---
${tlsRoute("tlsroute-not-allowed-protocol-http", "gateway-tlsroute-http-only")}
${tlsRoute("tlsroute-not-allowed-protocol-https", "gateway-tlsroute-https-only")}
${tlsRoute("tlsroute-no-matching-section-name", "gateway-tlsroute-tls-passthrough-only", "nonexistent-listener")}
`,
    },
  },
  (ctx) => {
    test("TLSRoute on an HTTP listener is Accepted=False/NotAllowedByListeners", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", onHttp, httpGw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("TLSRoute on an HTTPS listener is Accepted=False/NotAllowedByListeners", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", onHttps, httpsGw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("TLSRoute naming a missing sectionName is Accepted=False/NoMatchingParent", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TLSRoute", noSection, passthroughGw, { type: "Accepted", status: "False", reason: "NoMatchingParent" }));
    });
    test("none of the three TLSRoutes has an accepted parent", async () => {
      await eventually(ctx.env, (items) => l4NoAcceptedParents(items, "TLSRoute", onHttp) ?? l4NoAcceptedParents(items, "TLSRoute", onHttps) ?? l4NoAcceptedParents(items, "TLSRoute", noSection));
    });
    test("the HTTP-only and HTTPS-only Gateways have 0 routes attached", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, httpGw) ?? gatewayZeroRoutes(items, httpsGw));
    });
  },
);
