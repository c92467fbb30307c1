import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteRedirectHostAndStatus",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect-host-and-status, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /host-and-status}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301, hostname: example.org}}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "redirect-host-and-status" }] }],
  },
  (ctx) => {
    // No scheme and no port in the filter: the Location keeps the listener's port, which here is not 80.
    const port = (): string => String(ctx.env.port("same-namespace"));
    expectCases(ctx, "same-namespace", [
      { request: { path: "/hostname-redirect" }, status: 302, get redirect() { return { host: "example.org", port: port() }; } },
      { request: { path: "/host-and-status" }, status: 301, get redirect() { return { host: "example.org", port: port() }; } },
    ]);
  },
);
