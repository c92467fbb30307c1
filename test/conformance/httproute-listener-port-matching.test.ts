import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const gwName = "httproute-listener-port-matching";
const gw = { namespace: ns, name: gwName };
// Upstream's listener ports 80, 8080 and 8090 become three free ports.
const listener = (name: string, portKey: string, hostname: string): string =>
  `  - {name: ${name}, port: {{port:${portKey}}}, protocol: HTTP, hostname: ${hostname}, allowedRoutes: {namespaces: {from: Same}}}`;
const route = (name: string, portKey: string, backend: string, section?: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${gwName}, namespace: ${ns}, port: {{port:${portKey}}}${section ? `, sectionName: ${section}` : ""}}]
  rules:
  - backendRefs: [{name: ${backend}, port: 8080}]
`;

conformance(
  {
    name: "HTTPRouteListenerPortMatching",
    features: ["SupportHTTPRouteParentRefPort"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gwName}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${listener("listener-1", "lpm-80", "foo.com")}
${listener("listener-2", "lpm-8080", "foo.com")}
${listener("listener-3", "lpm-8080", "bar.com")}
${listener("listener-4", "lpm-8090", "foo.com")}
${listener("listener-5", "lpm-8090", "bar.com")}
---${route("backend-v1", "lpm-80", "infra-backend-v1")}---${route("backend-v2", "lpm-8080", "infra-backend-v2")}---${route("backend-v3", "lpm-8090", "infra-backend-v3", "listener-4")}`,
    },
    accepted: [
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v1" }], sectionNames: ["listener-1"] },
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v2" }], sectionNames: ["listener-2"] },
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v3" }], sectionNames: ["listener-4"] },
    ],
  },
  (ctx) => {
    expectCases(ctx, "lpm-80", [{ request: { host: "foo.com", path: "/" }, backend: "infra-backend-v1", namespace: ns }]);
    expectCases(ctx, "lpm-8080", [
      { request: { host: "foo.com:8080", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "bar.com:8080", path: "/" }, backend: "infra-backend-v2", namespace: ns },
    ]);
    expectCases(ctx, "lpm-8090", [
      { request: { host: "foo.com:8090", path: "/" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "bar.com:8090", path: "/" }, status: 404 },
    ]);
  },
);
