import { INFRA_NS } from "./harness/env.js";
import { retryCases } from "./harness/retry-cases.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const a3 = "/retry/code-500-attempts-3";
const a2 = "/retry/code-all-attempts-2";

conformance(
  {
    name: "HTTPRouteRetry",
    features: ["SupportHTTPRouteRetry (experimental)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: retries, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${a3}}}]
    retry: {codes: [500], attempts: 3}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: ${a2}}}]
    retry: {codes: [500, 502, 503, 504], attempts: 2}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "retries" }] }],
  },
  (ctx) => {
    retryCases(ctx, "same-namespace", [
      { name: "succeeds after 2 retries on 500 with attempts 3", path: a3, sim: { responseCode: "500", succeedAfter: "2" }, status: 200 },
      { name: "fails when the 500s outlast the attempts", path: a3, sim: { responseCode: "500", succeedAfter: "4" }, status: 500 },
      { name: "does not retry a 503 when only 500 is retried", path: a3, sim: { responseCode: "503", succeedAfter: "2" }, status: 503 },
      ...["500", "502", "503", "504"].flatMap((code) => [
        { name: `succeeds after 1 retry on ${code} with attempts 2`, path: a2, sim: { responseCode: code, succeedAfter: "1" }, status: 200 },
        { name: `fails when the ${code}s outlast the attempts`, path: a2, sim: { responseCode: code, succeedAfter: "3" }, status: Number(code) },
      ]),
    ]);
  },
);
