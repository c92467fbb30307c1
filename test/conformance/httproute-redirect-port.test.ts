import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const redirect = (prefix: string, filter: string): string =>
  `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]\n    filters: [{type: RequestRedirect, requestRedirect: ${filter}}]`;

conformance(
  {
    name: "HTTPRouteRedirectPort",
    features: ["SupportHTTPRoutePortRedirect"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect-port, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${redirect("/port", "{port: 8083}")}
${redirect("/port-and-host", "{hostname: example.org, port: 8083}")}
${redirect("/port-and-status", "{port: 8083, statusCode: 301}")}
${redirect("/port-and-host-and-status", "{port: 8083, hostname: example.org, statusCode: 302}")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "redirect-port" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/port" }, status: 302, redirect: { port: "8083" } },
      { request: { path: "/port-and-host" }, status: 302, redirect: { host: "example.org", port: "8083" } },
      { request: { path: "/port-and-status" }, status: 301, redirect: { port: "8083" } },
      { request: { path: "/port-and-host-and-status" }, status: 302, redirect: { host: "example.org", port: "8083" } },
    ]);
  },
);
