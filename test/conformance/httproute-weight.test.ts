import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";
import { checkWeightedDistribution } from "./harness/weights.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteWeight",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: weighted-backends, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs:
    - {name: infra-backend-v1, port: 8080, weight: 70}
    - {name: infra-backend-v2, port: 8080, weight: 30}
    - {name: infra-backend-v3, port: 8080, weight: 0}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "weighted-backends" }] }],
  },
  (ctx) => {
    test("Requests should have a distribution that matches the weight", async () => {
      const exp = { request: { path: "/" }, namespace: ns };
      await expectResponse(ctx.env.port("same-namespace"), exp);
      await checkWeightedDistribution(ctx.env.port("same-namespace"), exp, { "infra-backend-v1": 0.7, "infra-backend-v2": 0.3, "infra-backend-v3": 0 });
    });
  },
);
