import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const redirect = (prefix: string, filter: string): string =>
  `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]\n    filters: [{type: RequestRedirect, requestRedirect: ${filter}}]`;

conformance(
  {
    name: "HTTPRouteRedirectPath",
    features: ["SupportHTTPRoutePathRedirect"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect-path, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${redirect("/original-prefix", "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}")}
${redirect("/full", "{path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}")}
${redirect("/path-and-host", "{hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}")}
${redirect("/path-and-status", "{statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}")}
${redirect("/full-path-and-host", "{hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}")}
${redirect("/full-path-and-status", "{statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "redirect-path" }] }],
  },
  (ctx) => {
    // No scheme and no port in the filter: the Location keeps the listener's port (not 80 here).
    const r = (path: string, host?: string) => ({
      get port(): string {
        return String(ctx.env.port("same-namespace"));
      },
      path,
      ...(host ? { host } : {}),
    });
    expectCases(ctx, "same-namespace", [
      { request: { path: "/original-prefix/lemon" }, status: 302, redirect: r("/replacement-prefix/lemon") },
      { request: { path: "/full/path/original" }, status: 302, redirect: r("/full-path-replacement") },
      { request: { path: "/path-and-host" }, status: 302, redirect: r("/replacement-prefix", "example.org") },
      { request: { path: "/path-and-status" }, status: 301, redirect: r("/replacement-prefix") },
      { request: { path: "/full-path-and-host" }, status: 302, redirect: r("/replacement-full", "example.org") },
      { request: { path: "/full-path-and-status" }, status: 301, redirect: r("/replacement-full") },
    ]);
  },
);
