import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { eventually, mustBeAccepted, routeCondition } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const grant = (name: string, ns: string, from: string, to: string): string => `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: ${name}, namespace: ${ns}}
spec:
  from: [${from}]
  to: [${to}]
`;
const okFrom = `{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${INFRA_NS}}`;
const okTo = `{group: "", kind: Service, name: web-backend}`;
const route = { namespace: INFRA_NS, name: "reference-grant" };
const gw = { namespace: INFRA_NS, name: "same-namespace" };

// Each grant is wrong in exactly one field, so none permits the reference.
conformance(
  {
    name: "HTTPRouteInvalidReferenceGrant",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "case.yaml": [
        grant("reference-grant-wrong-namespace", INFRA_NS, okFrom, okTo),
        grant("reference-grant-wrong-from-group", WEB_NS, `{group: not-the-group-youre-looking-for, kind: HTTPRoute, namespace: ${INFRA_NS}}`, okTo),
        grant("reference-grant-wrong-from-kind", WEB_NS, `{group: gateway.networking.k8s.io, kind: Gateway, namespace: ${INFRA_NS}}`, okTo),
        grant("reference-grant-wrong-from-namespace", WEB_NS, `{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: not-the-namespace-youre-looking-for}`, okTo),
        grant("reference-grant-wrong-to-group", WEB_NS, okFrom, `{group: not-the-group-youre-looking-for, kind: Service, name: web-backend}`),
        grant("reference-grant-wrong-to-kind", WEB_NS, okFrom, `{group: "", kind: Secret, name: web-backend}`),
        grant("reference-grant-wrong-to-name", WEB_NS, okFrom, `{group: "", kind: Service, name: not-the-service-youre-looking-for}`),
        `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reference-grant, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: web-backend, namespace: ${WEB_NS}, port: 8080}]
`,
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [route]);
    });
    test("HTTPRoute with a backendRef in another namespace and no ReferenceGrant covering it has ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
    expectCases(ctx, "same-namespace", [{ name: "Simple HTTP request should not reach web-backend (500)", request: { path: "/" }, status: 500 }]);
  },
);
