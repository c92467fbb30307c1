import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteRewriteHost",
    features: ["SupportHTTPRouteHostRewrite"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rewrite-host, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [rewrite.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /one}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - filters: [{type: URLRewrite, urlRewrite: {hostname: example.org}}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /rewrite-host-and-modify-headers}}]
    filters:
    - {type: URLRewrite, urlRewrite: {hostname: test.example.org}}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Header-Set, value: set-overwrites-values}]
        add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}]
        remove: [X-Header-Remove]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "rewrite-host" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/one", host: "rewrite.example" }, expectedRequest: { path: "/one", host: "one.example.org" }, backend: "infra-backend-v1", namespace: ns },
      { request: { path: "/two", host: "rewrite.example" }, expectedRequest: { path: "/two", host: "example.org" }, backend: "infra-backend-v2", namespace: ns },
      {
        request: { path: "/rewrite-host-and-modify-headers", host: "rewrite.example", headers: { "X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1" } },
        expectedRequest: {
          path: "/rewrite-host-and-modify-headers",
          host: "test.example.org",
          headers: { "X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values" },
          absentHeaders: ["X-Header-Remove"],
        },
        backend: "infra-backend-v2",
        namespace: ns,
      },
    ]);
  },
);
