import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const route = (name: string, parents: string[], prefix: string, backend: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [${parents.map((p) => `{name: ${p}}`).join(", ")}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    backendRefs: [{name: ${backend}, port: 8080}]
`;

conformance(
  {
    name: "HTTPRouteMultipleGateways",
    features: ["core"],
    manifests: {
      "case.yaml": [
        route("multiple-gateways-shared-route", ["same-namespace", "all-namespaces"], "/shared", "infra-backend-v1"),
        route("same-namespace-dedicated-route", ["same-namespace"], "/", "infra-backend-v2"),
        route("all-namespaces-dedicated-route", ["all-namespaces"], "/", "infra-backend-v3"),
      ].join("---"),
    },
    accepted: [
      {
        gateway: { namespace: ns, name: "same-namespace" },
        routes: [
          { namespace: ns, name: "multiple-gateways-shared-route" },
          { namespace: ns, name: "same-namespace-dedicated-route" },
        ],
      },
      {
        gateway: { namespace: ns, name: "all-namespaces" },
        routes: [
          { namespace: ns, name: "multiple-gateways-shared-route" },
          { namespace: ns, name: "all-namespaces-dedicated-route" },
        ],
      },
    ],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      { name: "Gateway same-namespace: shared route is routed to infra-backend-v1", request: { path: "/shared" }, backend: "infra-backend-v1", namespace: ns },
      { name: "Gateway same-namespace: dedicated route is routed to infra-backend-v2", request: { path: "/" }, backend: "infra-backend-v2", namespace: ns },
    ]);
    expectCases(ctx, "all-namespaces", [
      { name: "Gateway all-namespaces: shared route is routed to infra-backend-v1", request: { path: "/shared" }, backend: "infra-backend-v1", namespace: ns },
      { name: "Gateway all-namespaces: dedicated route is routed to infra-backend-v3", request: { path: "/" }, backend: "infra-backend-v3", namespace: ns },
    ]);
  },
);
