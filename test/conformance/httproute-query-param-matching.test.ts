import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const qp = (name: string, value: string): string => `{name: ${name}, value: ${value}}`;

conformance(
  {
    name: "HTTPRouteQueryParamMatching",
    features: ["SupportHTTPRouteQueryParamMatching"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: query-param-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{queryParams: [${qp("animal", "whale")}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{queryParams: [${qp("animal", "dolphin")}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches:
    - queryParams: [${qp("animal", "dolphin")}, ${qp("color", "blue")}]
    - queryParams: [${qp("ANIMAL", "Whale")}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  # Combined with path and header matches.
  - matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [${qp("animal", "whale")}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: one}], queryParams: [${qp("animal", "whale")}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], queryParams: [${qp("animal", "whale")}]}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  # (a AND b) OR (c AND d AND e)
  - matches:
    - {path: {type: PathPrefix, value: /path3}, queryParams: [${qp("animal", "shark")}]}
    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], queryParams: [${qp("animal", "kraken")}]}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  # Precedence across rules: path first, then method, then number of headers, then of query params.
  - matches: [{path: {type: PathPrefix, value: /path5}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{queryParams: [${qp("animal", "hydra")}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: four}]}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "query-param-matching" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/?animal=whale" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/?animal=dolphin" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/?animal=dolphin&color=blue" }, backend: "infra-backend-v3", namespace: ns },
      { request: { path: "/?ANIMAL=Whale" }, backend: "infra-backend-v3", namespace: ns },
      { request: { path: "/?animal=whale&otherparam=irrelevant" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/?animal=dolphin&color=yellow" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/?color=blue" }, status: 404 },
      { request: { path: "/?animal=dog" }, status: 404 },
      { request: { path: "/?animal=whaledolphin" }, status: 404 },
      { request: { path: "/" }, status: 404 },
      { request: { path: "/path1?animal=whale" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/?animal=whale", headers: { version: "one" } }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/path2?animal=whale", headers: { version: "two" } }, backend: "infra-backend-v3", namespace: ns },
      { request: { path: "/path3?animal=shark" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/path4?animal=kraken", headers: { version: "three" } }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/?animal=shark" }, status: 404 },
      { request: { path: "/path4?animal=kraken" }, status: 404 },
      { request: { path: "/path5?animal=hydra" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/?animal=hydra", headers: { version: "four" } }, backend: "infra-backend-v3", namespace: ns },
    ]);
  },
);
