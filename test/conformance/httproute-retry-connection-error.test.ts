import { INFRA_NS } from "./harness/env.js";
import { retryCases } from "./harness/retry-cases.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const p = "/retry/no-status-code-attempts-3";

conformance(
  {
    name: "HTTPRouteRetryConnectionError",
    features: ["SupportHTTPRouteRetry (experimental)", "SupportHTTPRouteRetryConnectionError"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: retries-connection-error, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${p}}}]
    retry: {attempts: 3}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "retries-connection-error" }] }],
  },
  (ctx) => {
    // Without responseCode the backend resets the connection on each failing attempt.
    retryCases(ctx, "same-namespace", [
      { name: "succeeds after 2 retries on connection resets with attempts 3", path: p, sim: { succeedAfter: "2" }, status: 200 },
      { name: "fails when the resets outlast the attempts", path: p, sim: { succeedAfter: "4" }, status: [500, 503] },
    ]);
  },
);
