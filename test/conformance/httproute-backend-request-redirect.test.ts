import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteBackendRequestRedirect",
    features: ["SupportHTTPRouteBackendRequestRedirect"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend-request-redirect, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /full}}]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /redirected-full}}}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /redirected-prefix}}}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "backend-request-redirect" }] }],
  },
  (ctx) => {
    // No scheme and no port in the filter: the Location keeps the listener's (non-default) port.
    const r = (path: string) => ({
      path,
      get port(): string {
        return String(ctx.env.port("same-namespace"));
      },
    });
    expectCases(ctx, "same-namespace", [
      { request: { path: "/full/original" }, status: 302, redirect: r("/redirected-full") },
      { request: { path: "/prefix/original" }, status: 302, redirect: r("/redirected-prefix/original") },
    ]);
  },
);
