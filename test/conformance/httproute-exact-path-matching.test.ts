import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteExactPathMatching",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exact-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: Exact, value: /one}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: Exact, value: /two}}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "exact-matching" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/one" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/two" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/" }, status: 404 },
      { request: { path: "/one/example" }, status: 404 },
      { request: { path: "/two/" }, status: 404 },
      { request: { path: "/Two" }, status: 404 },
    ]);
  },
);
