import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteMatching",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  # Two matches in one rule are ORed.
  - matches:
    - path: {type: PathPrefix, value: /}
    - headers: [{name: version, value: one}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /v2}
    - headers: [{name: version, value: two}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "matching" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/example" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/", headers: { Version: "one" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/v2" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/v2/example" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/", headers: { Version: "two" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/v2/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/v2example" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/foo/v2/example" }, backend: "infra-backend-v1", namespace: ns },
    ]);
  },
);
