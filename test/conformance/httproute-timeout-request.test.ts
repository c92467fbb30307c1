import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
// Upstream asks its echo server for a delay with ?delay=1s; ours takes the x-echo-delay-ms header.
const slow = { "x-echo-delay-ms": "1000" };

conformance(
  {
    name: "HTTPRouteTimeoutRequest",
    features: ["SupportHTTPRouteRequestTimeout"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-timeout, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /request-timeout}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
    timeouts: {request: 500ms}
  - matches: [{path: {type: PathPrefix, value: /disable-request-timeout}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
    timeouts: {request: "0s"}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "request-timeout" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/request-timeout" }, status: 200, namespace: ns },
      { name: "request to '/request-timeout' delayed 1s by the backend should receive 504", request: { path: "/request-timeout", headers: slow }, status: 504 },
      { name: "request to '/disable-request-timeout' delayed 1s should receive 200 (timeout 0s disables it)", request: { path: "/disable-request-timeout", headers: slow }, status: 200, namespace: ns },
    ]);
  },
);
