import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

conformance(
  {
    name: "HTTPRouteReferenceGrant",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "grant.yaml": `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: reference-grant, namespace: ${WEB_NS}}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${INFRA_NS}}]
  to: [{group: "", kind: Service, name: web-backend}]
`,
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reference-grant, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: web-backend, namespace: ${WEB_NS}, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: INFRA_NS, name: "same-namespace" }, routes: [{ namespace: INFRA_NS, name: "reference-grant" }] }],
  },
  (ctx) => {
    test("Simple HTTP request should reach web-backend", async () => {
      await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/" }, backend: "web-backend", namespace: WEB_NS });
    });
    test("Simple HTTP request should return 500 after deleting the relevant reference grant", async () => {
      await ctx.env.apply({ "grant.yaml": null });
      await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/" }, status: 500 }, { windowMs: 3000 });
    });
  },
);
