import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRoute307Redirect",
    features: ["SupportHTTPRoute307RedirectStatusCode (provisional)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: 307-redirect, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /temporary}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 307}}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "307-redirect" }] }],
  },
  (ctx) => {
    // Nothing but the status changes: same host, path and (non-default) listener port.
    expectCases(ctx, "same-namespace", [
      {
        request: { path: "/temporary" },
        status: 307,
        get redirect() {
          return { host: "127.0.0.1", path: "/temporary", port: String(ctx.env.port("same-namespace")) };
        },
      },
    ]);
  },
);
