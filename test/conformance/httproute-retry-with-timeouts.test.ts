import { INFRA_NS } from "./harness/env.js";
import { retryCases } from "./harness/retry-cases.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const bt = "/retry/backend-request-timeout-200ms";
const rt = "/retry/request-timeout-200ms";

conformance(
  {
    name: "HTTPRouteRetryWithTimeouts",
    features: ["SupportHTTPRouteRetry (experimental)", "SupportHTTPRouteRetryBackendTimeout", "SupportHTTPRouteRequestTimeout", "SupportHTTPRouteBackendTimeout"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: retries-with-timeouts, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${bt}}}]
    retry: {attempts: 2}
    timeouts: {backendRequest: 200ms}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: ${rt}}}]
    retry: {codes: [500], attempts: 5}
    timeouts: {backendRequest: 200ms, request: 400ms}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "retries-with-timeouts" }] }],
  },
  (ctx) => {
    retryCases(ctx, "same-namespace", [
      { name: "succeeds after 2 retries of attempts that hit the backend timeout", path: bt, sim: { responseCode: "500", succeedAfter: "2", delayRetry: "300ms" }, status: 200 },
      { name: "fails with 504 when backend timeouts outlast the attempts", path: bt, sim: { responseCode: "500", succeedAfter: "3", delayRetry: "300ms" }, status: 504 },
      { name: "succeeds when retries finish within the request timeout", path: rt, sim: { responseCode: "500", succeedAfter: "1" }, status: 200 },
      { name: "fails with 504 when retries outlast the request timeout", path: rt, sim: { responseCode: "500", succeedAfter: "4", delayRetry: "100ms" }, status: 504 },
    ]);
  },
);
