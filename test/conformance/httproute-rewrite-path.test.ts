import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const mods = `{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}`;
const rule = (prefix: string, path: string, extra = ""): string => `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: [{type: URLRewrite, urlRewrite: {path: ${path}}}${extra ? `, ${extra}` : ""}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]`;
const sentHeaders = { "X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Set": "set-val" };
const seenHeaders = { "X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values" };
const v1 = { backend: "infra-backend-v1", namespace: ns };

conformance(
  {
    name: "HTTPRouteRewritePath",
    features: ["SupportHTTPRoutePathRewrite"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rewrite-path, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${rule("/prefix/one", "{type: ReplacePrefixMatch, replacePrefixMatch: /one}")}
${rule("/strip-prefix", "{type: ReplacePrefixMatch, replacePrefixMatch: /}")}
${rule("/full/one", "{type: ReplaceFullPath, replaceFullPath: /one}")}
${rule("/full/rewrite-path-and-modify-headers", "{type: ReplaceFullPath, replaceFullPath: /test}", mods)}
${rule("/prefix/rewrite-path-and-modify-headers", "{type: ReplacePrefixMatch, replacePrefixMatch: /prefix}", mods)}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "rewrite-path" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/prefix/one/two" }, expectedRequest: { path: "/one/two" }, ...v1 },
      { request: { path: "/strip-prefix/three" }, expectedRequest: { path: "/three" }, ...v1 },
      { request: { path: "/strip-prefix" }, expectedRequest: { path: "/" }, ...v1 },
      { request: { path: "/full/one/two" }, expectedRequest: { path: "/one" }, ...v1 },
      {
        request: { path: "/full/rewrite-path-and-modify-headers/test", headers: sentHeaders },
        expectedRequest: { path: "/test", headers: seenHeaders, absentHeaders: ["X-Header-Remove"] },
        ...v1,
      },
      {
        request: { path: "/prefix/rewrite-path-and-modify-headers/one", headers: sentHeaders },
        expectedRequest: { path: "/prefix/one", headers: seenHeaders, absentHeaders: ["X-Header-Remove"] },
        ...v1,
      },
    ]);
  },
);
