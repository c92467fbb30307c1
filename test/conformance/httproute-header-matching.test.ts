import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteHeaderMatching",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: header-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{headers: [{name: version, value: one}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  # More headers = more specific: wins over the rule above.
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches:
    - headers: [{name: color, value: blue}]
    - headers: [{name: color, value: green}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches:
    - headers: [{name: color, value: red}]
    - headers: [{name: color, value: yellow}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "header-matching" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/", headers: { Version: "one" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/", headers: { Version: "two" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/", headers: { Version: "two", Color: "orange" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/", headers: { Version: "two", Color: "blue" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/", headers: { Color: "orange" } }, status: 404 },
      { request: { path: "/", headers: { "Some-Other-Header": "one" } }, status: 404 },
      { request: { path: "/", headers: { Color: "blue" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/", headers: { Color: "green" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/", headers: { Color: "red" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/", headers: { Color: "yellow" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/", headers: { Color: "purple" } }, status: 404 },
    ]);
  },
);
