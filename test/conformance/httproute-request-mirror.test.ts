import { INFRA_NS } from "./harness/env.js";
import { mirrorCases } from "./harness/mirror.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const mirror = (name: string): string => `{type: RequestMirror, requestMirror: {backendRef: {name: ${name}, namespace: ${ns}, port: 8080}}}`;
const mods = `{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}`;

conformance(
  {
    name: "HTTPRouteRequestMirror",
    features: ["SupportHTTPRouteRequestMirror"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-mirror, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters: [${mirror("infra-backend-v2")}]
    backendRefs: [{name: infra-backend-v1, namespace: ${ns}, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /mirror-and-modify-headers}}]
    filters: [${mods}, ${mirror("infra-backend-v2")}]
    backendRefs: [{name: infra-backend-v1, namespace: ${ns}, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "request-mirror" }] }],
  },
  (ctx) => {
    mirrorCases(ctx, "same-namespace", [
      { exp: { request: { path: "/mirror" }, backend: "infra-backend-v1", namespace: ns }, mirrors: ["infra-backend-v2"] },
      {
        exp: {
          request: { path: "/mirror-and-modify-headers", headers: { "X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1" } },
          expectedRequest: {
            path: "/mirror-and-modify-headers",
            headers: { "X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values" },
            absentHeaders: ["X-Header-Remove"],
          },
          backend: "infra-backend-v1",
          namespace: ns,
        },
        mirrors: ["infra-backend-v2"],
      },
    ]);
  },
);
