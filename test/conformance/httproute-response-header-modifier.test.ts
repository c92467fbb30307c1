import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const v1 = { backend: "infra-backend-v1", namespace: ns };
const rule = (prefix: string, filters: string): string => `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: ${filters}
    backendRefs: [{name: infra-backend-v1, port: 8080}]`;
const resp = (m: string): string => `[{type: ResponseHeaderModifier, responseHeaderModifier: ${m}}]`;

conformance(
  {
    name: "HTTPRouteResponseHeaderModifier",
    features: ["SupportHTTPRouteResponseHeaderModification"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: response-header-modifier, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
${rule("/set", resp("{set: [{name: X-Header-Set, value: set-overwrites-values}]}"))}
${rule("/add", resp("{add: [{name: X-Header-Add, value: add-appends-values}]}"))}
${rule("/remove", resp("{remove: [X-Header-Remove]}"))}
${rule(
  "/multiple",
  resp(
    "{set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], " +
      "add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, {name: X-Header-Add-3, value: header-add-3}], " +
      "remove: [X-Header-Remove-1, X-Header-Remove-2]}",
  ),
)}
${rule(
  "/case-insensitivity",
  resp(
    "{set: [{name: X-Header-Set, value: header-set}], " +
      "add: [{name: X-Header-Add, value: header-add}, {name: x-lowercase-add, value: lowercase-add}, {name: x-Mixedcase-ADD-1, value: mixedcase-add-1}, " +
      "{name: X-mixeDcase-add-2, value: mixedcase-add-2}, {name: X-UPPERCASE-ADD, value: uppercase-add}], remove: [X-Header-Remove]}",
  ),
)}
${rule(
  "/response-and-request-header-modifiers",
  "[{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], " +
    "add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}], remove: [X-Header-Remove-1, X-Header-Remove-2]}}, " +
    "{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], " +
    "add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}]",
)}
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "response-header-modifier" }] }],
  },
  (ctx) => {
    expectCases(ctx, "same-namespace", [
      {
        request: { path: "/set" },
        backendSetResponseHeaders: { "Some-Other-Header": "val" },
        responseHeaders: { "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values" },
        ...v1,
      },
      {
        request: { path: "/set" },
        backendSetResponseHeaders: { "Some-Other-Header": "val", "X-Header-Set": "some-other-value" },
        responseHeaders: { "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values" },
        ...v1,
      },
      {
        request: { path: "/add" },
        backendSetResponseHeaders: { "Some-Other-Header": "val" },
        responseHeaders: { "Some-Other-Header": "val", "X-Header-Add": "add-appends-values" },
        ...v1,
      },
      {
        request: { path: "/add" },
        backendSetResponseHeaders: { "Some-Other-Header": "val", "X-Header-Add": "some-other-value" },
        responseHeaders: { "Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values" },
        ...v1,
      },
      { request: { path: "/remove" }, backendSetResponseHeaders: { "X-Header-Remove": "val" }, responseAbsentHeaders: ["X-Header-Remove"], ...v1 },
      {
        request: { path: "/multiple" },
        backendSetResponseHeaders: {
          "X-Header-Set-2": "set-val-2",
          "X-Header-Add-2": "add-val-2",
          "X-Header-Remove-2": "remove-val-2",
          "Another-Header": "another-header-val",
          "X-Header-Remove-1": "val",
        },
        responseHeaders: {
          "X-Header-Set-1": "header-set-1",
          "X-Header-Set-2": "header-set-2",
          "X-Header-Add-1": "header-add-1",
          "X-Header-Add-2": "add-val-2,header-add-2",
          "X-Header-Add-3": "header-add-3",
          "Another-Header": "another-header-val",
        },
        responseAbsentHeaders: ["X-Header-Remove-1", "X-Header-Remove-2"],
        ...v1,
      },
      {
        request: { path: "/case-insensitivity" },
        backendSetResponseHeaders: {
          "x-header-set": "original-val-set",
          "x-header-add": "original-val-add",
          "x-header-remove": "original-val-remove",
          "Another-Header": "another-header-val",
        },
        responseHeaders: {
          "X-Header-Set": "header-set",
          "X-Header-Add": "original-val-add,header-add",
          "X-Lowercase-Add": "lowercase-add",
          "X-Mixedcase-Add-1": "mixedcase-add-1",
          "X-Mixedcase-Add-2": "mixedcase-add-2",
          "X-Uppercase-Add": "uppercase-add",
          "Another-Header": "another-header-val",
        },
        responseAbsentHeaders: ["x-header-remove", "X-Header-Remove"],
        ...v1,
      },
      {
        request: {
          path: "/response-and-request-header-modifiers",
          headers: { "X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Echo": "echo" },
        },
        backendSetResponseHeaders: {
          "X-Header-Set-2": "set-val-2",
          "X-Header-Add-2": "add-val-2",
          "X-Header-Remove-2": "remove-val-2",
          "Another-Header": "another-header-val",
          "X-Header-Remove-1": "remove-val-1",
          "X-Header-Echo": "echo",
        },
        expectedRequest: {
          path: "/response-and-request-header-modifiers",
          headers: { "X-Header-Add": "header-val-1", "X-Header-Set": "set-overwrites-values", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Echo": "echo" },
          absentHeaders: ["X-Header-Remove"],
        },
        responseHeaders: {
          "X-Header-Set-1": "header-set-1",
          "X-Header-Set-2": "header-set-2",
          "X-Header-Add-1": "header-add-1",
          "X-Header-Add-2": "add-val-2,header-add-2",
          "Another-Header": "another-header-val",
          "X-Header-Echo": "echo",
        },
        responseAbsentHeaders: ["X-Header-Remove-1", "X-Header-Remove-2"],
        ...v1,
      },
    ]);
  },
);
