import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRoute308Redirect",
    features: ["SupportHTTPRoute308RedirectStatusCode (provisional)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: 308-redirect, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /permanent}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 308}}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "308-redirect" }] }],
  },
  (ctx) => {
    // Nothing but the status changes: same host, path and (non-default) listener port.
    expectCases(ctx, "same-namespace", [
      {
        request: { path: "/permanent" },
        status: 308,
        get redirect() {
          return { host: "127.0.0.1", path: "/permanent", port: String(ctx.env.port("same-namespace")) };
        },
      },
    ]);
  },
);
