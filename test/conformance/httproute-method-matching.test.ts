import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteMethodMatching",
    features: ["SupportHTTPRouteMethodMatching"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: method-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{method: POST}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{method: GET}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  # Combined with path and header matches.
  - matches: [{path: {type: PathPrefix, value: /path1}, method: GET}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: one}], method: PUT}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], method: POST}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  # (a AND b) OR (c AND d AND e)
  - matches:
    - {path: {type: PathPrefix, value: /path3}, method: PATCH}
    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], method: DELETE}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  # Precedence: path, then method, then headers.
  - matches: [{path: {type: PathPrefix, value: /path5}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{method: PATCH}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: four}]}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "method-matching" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { method: "POST", path: "/" }, backend: "infra-backend-v1", namespace: ns },
      { request: { method: "GET", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { method: "HEAD", path: "/" }, status: 404 },
      { request: { method: "GET", path: "/path1" }, backend: "infra-backend-v1", namespace: ns },
      { request: { method: "PUT", path: "/", headers: { version: "one" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { method: "POST", path: "/path2", headers: { version: "two" } }, backend: "infra-backend-v3", namespace: ns },
      { request: { method: "PATCH", path: "/path3" }, backend: "infra-backend-v1", namespace: ns },
      { request: { method: "DELETE", path: "/path4", headers: { version: "three" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { method: "PUT", path: "/" }, status: 404 },
      { request: { method: "DELETE", path: "/path4" }, status: 404 },
      { request: { method: "PATCH", path: "/path5" }, backend: "infra-backend-v1", namespace: ns },
      { request: { method: "PATCH", path: "/", headers: { version: "four" } }, backend: "infra-backend-v2", namespace: ns },
    ]);
  },
);
