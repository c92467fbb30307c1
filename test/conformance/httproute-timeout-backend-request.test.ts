import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
// Upstream asks its echo server for a delay with ?delay=1s; ours takes the x-echo-delay-ms header.
const slow = { "x-echo-delay-ms": "1000" };

conformance(
  {
    name: "HTTPRouteTimeoutBackendRequest",
    features: ["SupportHTTPRouteBackendTimeout"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend-request-timeout, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /backend-timeout}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
    timeouts: {backendRequest: 500ms}
  - matches: [{path: {type: PathPrefix, value: /disable-backend-timeout}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
    timeouts: {backendRequest: "0s"}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "backend-request-timeout" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { request: { path: "/backend-timeout" }, status: 200, namespace: ns },
      { name: "request to '/backend-timeout' delayed 1s by the backend should receive 504", request: { path: "/backend-timeout", headers: slow }, status: 504 },
      { name: "request to '/disable-backend-timeout' delayed 1s should receive 200 (timeout 0s disables it)", request: { path: "/disable-backend-timeout", headers: slow }, status: 200, namespace: ns },
    ]);
  },
);
