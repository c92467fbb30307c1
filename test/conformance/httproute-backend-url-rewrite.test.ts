import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteBackendURLRewrite",
    features: ["SupportHTTPRouteBackendURLRewrite"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend-url-rewrite, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /full}}]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /rewritten-full}}}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /rewritten-prefix}}}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "backend-url-rewrite" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/full/original" }, expectedRequest: { path: "/rewritten-full" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/prefix/original" }, expectedRequest: { path: "/rewritten-prefix/original" }, backend: "infra-backend-v1", namespace: ns },
    ]);
  },
);
