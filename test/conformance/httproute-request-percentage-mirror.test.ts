import { INFRA_NS } from "./harness/env.js";
import { percentageMirrorCase } from "./harness/mirror.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const mirror = (extra: string): string => `{type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, namespace: ${ns}, port: 8080}, ${extra}}}`;
const mods = `{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}`;

conformance(
  {
    name: "HTTPRouteRequestPercentageMirror",
    features: ["SupportHTTPRouteRequestPercentageMirror (provisional)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-percentage-mirror, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /percent-mirror}}]
    filters: [${mirror("percent: 20")}]
    backendRefs: [{name: infra-backend-v1, namespace: ${ns}, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /percent-mirror-fraction}}]
    filters: [${mirror("fraction: {numerator: 25, denominator: 50}")}]
    backendRefs: [{name: infra-backend-v1, namespace: ${ns}, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /percent-mirror-and-modify-headers}}]
    filters: [${mods}, ${mirror("percent: 35")}]
    backendRefs: [{name: infra-backend-v1, namespace: ${ns}, port: 8080}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "request-percentage-mirror" }] }],
  },
  (ctx) => {
    percentageMirrorCase(ctx, "same-namespace", { request: { path: "/percent-mirror" }, backend: "infra-backend-v1", namespace: ns }, "infra-backend-v2", 20);
    percentageMirrorCase(ctx, "same-namespace", { request: { path: "/percent-mirror-fraction" }, backend: "infra-backend-v1", namespace: ns }, "infra-backend-v2", 50);
    percentageMirrorCase(
      ctx,
      "same-namespace",
      {
        request: { path: "/percent-mirror-and-modify-headers", headers: { "X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1" } },
        expectedRequest: {
          path: "/percent-mirror-and-modify-headers",
          headers: { "X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values" },
          absentHeaders: ["X-Header-Remove"],
        },
        backend: "infra-backend-v1",
        namespace: ns,
      },
      "infra-backend-v2",
      35,
    );
  },
);
