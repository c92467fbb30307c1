import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

conformance(
  {
    name: "HTTPRouteCrossNamespace",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross-namespace, namespace: ${WEB_NS}}
spec:
  parentRefs: [{name: backend-namespaces, namespace: ${INFRA_NS}}]
  rules:
  - backendRefs: [{name: web-backend, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: INFRA_NS, name: "backend-namespaces" }, routes: [{ namespace: WEB_NS, name: "cross-namespace" }] }],
  },
  (ctx) => {
    expectCases(ctx, "backend-namespaces", [
      { name: "Simple HTTP request should reach web-backend", request: { path: "/" }, backend: "web-backend", namespace: WEB_NS },
    ]);
  },
);
