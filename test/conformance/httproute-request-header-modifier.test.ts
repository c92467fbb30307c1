import { INFRA_NS } from "./harness/env.js";
import { HEADER_FILTERS, HEADER_MODIFIER_CASES } from "./harness/header-modifier-cases.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteRequestHeaderModifier",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-header-modifier, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${Object.entries(HEADER_FILTERS)
  .map(
    ([prefix, f]) => `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: ${f}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]`,
  )
  .join("\n")}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "request-header-modifier" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", HEADER_MODIFIER_CASES);
  },
);
