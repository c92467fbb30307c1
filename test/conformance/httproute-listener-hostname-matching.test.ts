import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const gwName = "httproute-listener-hostname-matching";
const listener = (name: string, hostname: string): string =>
  `  - {name: ${name}, port: {{port:${gwName}}}, protocol: HTTP, hostname: "${hostname}", allowedRoutes: {namespaces: {from: Same}}}`;
const route = (name: string, sections: string[], backend: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs:
${sections.map((s) => `  - {name: ${gwName}, namespace: ${ns}, sectionName: ${s}}`).join("\n")}
  rules:
  - backendRefs: [{name: ${backend}, port: 8080}]
`;

const gw = { namespace: ns, name: gwName };

conformance(
  {
    name: "HTTPRouteListenerHostnameMatching",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gwName}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${listener("listener-1", "bar.com")}
${listener("listener-2", "foo.bar.com")}
${listener("listener-3", "*.bar.com")}
${listener("listener-4", "*.foo.com")}
---${route("backend-v1", ["listener-1"], "infra-backend-v1")}---${route("backend-v2", ["listener-2"], "infra-backend-v2")}---${route("backend-v3", ["listener-3", "listener-4"], "infra-backend-v3")}`,
    },
    accepted: [
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v1" }], sectionNames: ["listener-1"] },
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v2" }], sectionNames: ["listener-2"] },
      { gateway: gw, routes: [{ namespace: ns, name: "backend-v3" }], sectionNames: ["listener-3", "listener-4"] },
    ],
  },
  (ctx) => {
    expectCases(ctx, gwName, [
      { request: { host: "bar.com", path: "/" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "foo.bar.com", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "baz.bar.com", path: "/" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "boo.bar.com", path: "/" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "multiple.prefixes.bar.com", path: "/" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "multiple.prefixes.foo.com", path: "/" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "foo.com", path: "/" }, status: 404 },
      { request: { host: "no.matching.host", path: "/" }, status: 404 },
    ]);
  },
);
