import { INFRA_NS } from "./harness/env.js";
import { notAttachedCases } from "./harness/not-attached.js";
import { conformance } from "./harness/suite.js";

const route = { namespace: INFRA_NS, name: "httproute-listener-not-matching-section-name" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

conformance(
  {
    name: "HTTPRouteInvalidParentRefNotMatchingSectionName",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route.name}, namespace: ${INFRA_NS}}
spec:
  # The port is the listener's; only the sectionName (no listener "http1") is wrong.
  parentRefs: [{name: same-namespace, namespace: ${INFRA_NS}, port: {{port:same-namespace}}, sectionName: http1}]
  rules:
  - backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]
`,
    },
  },
  (ctx) => {
    notAttachedCases(ctx, route, gw, { type: "Accepted", status: "False", reason: "NoMatchingParent" });
  },
);
