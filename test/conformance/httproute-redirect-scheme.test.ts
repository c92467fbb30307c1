import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const redirect = (prefix: string, filter: string): string =>
  `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]\n    filters: [{type: RequestRedirect, requestRedirect: ${filter}}]`;

conformance(
  {
    name: "HTTPRouteRedirectScheme",
    features: ["SupportHTTPRouteSchemeRedirect"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect-scheme, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${redirect("/scheme", "{scheme: https}")}
${redirect("/scheme-and-host", "{hostname: example.org, scheme: https}")}
${redirect("/scheme-and-status", "{scheme: https, statusCode: 301}")}
${redirect("/scheme-and-host-and-status", "{scheme: https, statusCode: 302, hostname: example.org}")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "redirect-scheme" }] }],
  },
  (ctx) => {
    // A scheme without a port means that scheme's well-known port: 443, left out of the Location.
    expectCases(ctx, "same-namespace", [
      { request: { path: "/scheme" }, status: 302, redirect: { scheme: "https" } },
      { request: { path: "/scheme-and-host" }, status: 302, redirect: { host: "example.org", scheme: "https" } },
      { request: { path: "/scheme-and-status" }, status: 301, redirect: { scheme: "https" } },
      { request: { path: "/scheme-and-host-and-status" }, status: 302, redirect: { host: "example.org", scheme: "https" } },
    ]);
  },
);
