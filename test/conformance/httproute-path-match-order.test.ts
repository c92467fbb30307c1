import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const rule = (type: string, value: string, backend: string): string =>
  `  - matches: [{path: {type: ${type}, value: ${value}}}]\n    backendRefs: [{name: ${backend}, port: 8080}]`;

conformance(
  {
    name: "HTTPRoutePathMatchOrder",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: path-matching-order, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${rule("Exact", "/match", "infra-backend-v1")}
${rule("Exact", "/match/exact", "infra-backend-v2")}
${rule("Exact", "/match/exact/one", "infra-backend-v3")}
${rule("PathPrefix", "/match/", "infra-backend-v3")}
${rule("PathPrefix", "/match/prefix/", "infra-backend-v1")}
${rule("PathPrefix", "/match/prefix/one", "infra-backend-v2")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "path-matching-order" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/match/exact/one" }, backend: "infra-backend-v3", namespace: ns },
      { request: { path: "/match/exact" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/match" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/match/prefix/one/any" }, backend: "infra-backend-v2", namespace: ns },
      { request: { path: "/match/prefix/any" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/match/any" }, backend: "infra-backend-v3", namespace: ns },
    ]);
  },
);
