import { INFRA_NS } from "./harness/env.js";
import type { Expectation } from "./harness/http.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

const cors = (path: string, c: string): string => `  - matches: [{path: {type: PathPrefix, value: ${path}}}]
    filters: [{type: CORS, cors: ${c}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]`;

const preflight = (path: string, origin: string, method: string, headers?: string): Expectation["request"] => ({
  path,
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": method, ...(headers ? { "access-control-request-headers": headers } : {}) },
});

const FULL = {
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-allow-headers": "x-header-1, x-header-2",
  "access-control-expose-headers": "x-header-3, x-header-4",
  "access-control-max-age": "3600",
  "access-control-allow-credentials": "true",
};
const CORS_HEADERS = ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods", "access-control-allow-headers", "access-control-expose-headers", "access-control-max-age"];

conformance(
  {
    name: "HTTPRouteCORS",
    features: ["SupportHTTPRouteCORS"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-multiple-origins-methods-headers, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${cors("/cors-1", `{allowOrigins: ["https://www.foo.com", "https://*.bar.com"], allowMethods: [GET, OPTIONS], allowHeaders: [x-header-1, x-header-2], exposeHeaders: [x-header-3, x-header-4], allowCredentials: true, maxAge: 3600}`)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-methods, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${cors("/cors-2", `{allowOrigins: ["https://www.foo.com"], allowMethods: ["*"]}`)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-origin, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${cors("/cors-wildcard-origin", `{allowOrigins: ["*"], allowMethods: [PUT], allowCredentials: false}`)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-methods-headers, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${cors("/cors-wildcard-methods-headers", `{allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: true}`)}
${cors("/cors-wildcard-methods-headers-unauth", `{allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: false}`)}
`,
    },
    accepted: [
      {
        gateway: { namespace: ns, name: "same-namespace" },
        routes: ["cors-multiple-origins-methods-headers", "cors-wildcard-methods", "cors-wildcard-origin", "cors-wildcard-methods-headers"].map((name) => ({ namespace: ns, name })),
      },
    ],
  },
  (ctx) => {
    const cases: Expectation[] = [
      { name: "preflight from an exact allowed origin is answered by the gateway", request: preflight("/cors-1", "https://www.foo.com", "GET", "x-header-1, x-header-2"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "https://www.foo.com", ...FULL } },
      { name: "preflight from an origin matching https://*.bar.com", request: preflight("/cors-1", "https://www.bar.com", "GET", "x-header-1, x-header-2"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "https://www.bar.com", ...FULL } },
      { name: "the wildcard covers several labels", request: preflight("/cors-1", "https://xpto.www.bar.com", "GET", "x-header-1, x-header-2"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "https://xpto.www.bar.com", ...FULL } },
      { name: "preflight from an origin not allowed gets no CORS headers", request: preflight("/cors-1", "https://foobar.com", "GET"), gatewayAnswers: true, status: [200, 204, 403], responseAbsentHeaders: CORS_HEADERS },
      { name: "actual request from an allowed origin reaches the backend with CORS headers back", request: { path: "/cors-1", headers: { origin: "https://www.foo.com" } }, expectedRequest: { headers: { origin: "https://www.foo.com" } }, responseHeaders: { "access-control-allow-origin": "https://www.foo.com", "access-control-allow-credentials": "true", "access-control-expose-headers": "x-header-3, x-header-4" } },
      { name: "actual request from a wildcard-matched origin", request: { path: "/cors-1", headers: { origin: "https://www.bar.com" } }, responseHeaders: { "access-control-allow-origin": "https://www.bar.com" } },
      { name: "actual request from an origin not allowed gets no CORS headers", request: { path: "/cors-1", headers: { origin: "https://foobar.com" } }, responseAbsentHeaders: CORS_HEADERS },
      { name: "allowMethods * allows POST, without credentials", request: preflight("/cors-2", "https://www.foo.com", "POST"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "https://www.foo.com", "access-control-allow-methods": "POST" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
      { name: "allowOrigins * without credentials answers *", request: preflight("/cors-wildcard-origin", "https://foobar.com", "PUT"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "*", "access-control-allow-methods": "PUT" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
      { name: "allowOrigins * with an origin carrying a port", request: preflight("/cors-wildcard-origin", "https://foobar.com:12345", "PUT"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "*", "access-control-allow-methods": "PUT" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
      { name: "actual PUT from any origin", request: { path: "/cors-wildcard-origin", method: "PUT", headers: { origin: "https://foobar.com:12345" } }, responseHeaders: { "access-control-allow-origin": "*" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
      { name: "wildcards with credentials echo the origin, method and headers", request: preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT", "x-header-1, x-header-2"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "https://other.foo.com", "access-control-allow-methods": "PUT", "access-control-allow-headers": "x-header-1, x-header-2", "access-control-allow-credentials": "true" } },
      { name: "wildcards without credentials", request: preflight("/cors-wildcard-methods-headers-unauth", "https://other.foo.com", "PUT", "x-header-1, x-header-2"), gatewayAnswers: true, status: [200, 204], responseHeaders: { "access-control-allow-origin": "*", "access-control-allow-methods": "PUT", "access-control-allow-headers": "x-header-1, x-header-2" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
      { name: "actual request with credentials allowed", request: { path: "/cors-wildcard-methods-headers", headers: { origin: "https://other.foo.com" } }, responseHeaders: { "access-control-allow-origin": "https://other.foo.com", "access-control-allow-credentials": "true" } },
      { name: "actual request without credentials", request: { path: "/cors-wildcard-methods-headers-unauth", headers: { origin: "https://other.foo.com" } }, responseHeaders: { "access-control-allow-origin": "*" }, responseAbsentHeaders: ["access-control-allow-credentials"] },
    ];
    expectCases(ctx, "same-namespace", cases);
  },
);
