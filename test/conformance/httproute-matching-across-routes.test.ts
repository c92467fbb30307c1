import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteMatchingAcrossRoutes",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matching-part1, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com, example.net]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
    - headers: [{name: version, value: one}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: matching-part2, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /v2}
    - headers: [{name: version, value: two}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [
      {
        gateway: { namespace: ns, name: "same-namespace" },
        routes: [
          { namespace: ns, name: "matching-part1" },
          { namespace: ns, name: "matching-part2" },
        ],
      },
    ],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { host: "example.com", path: "/" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "example.com", path: "/example" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "example.net", path: "/example" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "example.com", path: "/example", headers: { Version: "one" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "example.com", path: "/v2" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "example.net", path: "/v2" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "example.com", path: "/v2/example" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "example.com", path: "/", headers: { Version: "two" } }, backend: "infra-backend-v2", namespace: ns },
    ]);
  },
);
