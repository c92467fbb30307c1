// Request-header-modifier cases shared by the rule-level and backendRef-level variants: the same
// filters are applied either on the rule or on its only backendRef, and the backend sees the same.
import { INFRA_NS } from "./env.js";
import type { Expectation } from "./http.js";

const ns = INFRA_NS;
const v1 = { backend: "infra-backend-v1", namespace: ns };

export const HEADER_FILTERS: Record<string, string> = {
  "/set": "{set: [{name: X-Header-Set, value: set-overwrites-values}]}",
  "/add": "{add: [{name: X-Header-Add, value: add-appends-values}]}",
  "/remove": "{remove: [X-Header-Remove]}",
  "/multiple":
    "{set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], " +
    "add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, {name: X-Header-Add-3, value: header-add-3}], " +
    "remove: [X-Header-Remove-1, X-Header-Remove-2]}",
  "/case-insensitivity": "{set: [{name: X-Header-Set, value: header-set}], add: [{name: X-Header-Add, value: header-add}], remove: [X-Header-Remove]}",
};

export const HEADER_MODIFIER_CASES: Expectation[] = [
  {
    request: { path: "/set", headers: { "Some-Other-Header": "val" } },
    expectedRequest: { path: "/set", headers: { "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values" } },
    ...v1,
  },
  {
    request: { path: "/set", headers: { "Some-Other-Header": "val", "X-Header-Set": "some-other-value" } },
    expectedRequest: { path: "/set", headers: { "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values" } },
    ...v1,
  },
  {
    request: { path: "/add", headers: { "Some-Other-Header": "val" } },
    expectedRequest: { path: "/add", headers: { "Some-Other-Header": "val", "X-Header-Add": "add-appends-values" } },
    ...v1,
  },
  {
    request: { path: "/add", headers: { "Some-Other-Header": "val", "X-Header-Add": "some-other-value" } },
    expectedRequest: { path: "/add", headers: { "Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values" } },
    ...v1,
  },
  {
    request: { path: "/remove", headers: { "X-Header-Remove": "val" } },
    expectedRequest: { path: "/remove", absentHeaders: ["X-Header-Remove"] },
    ...v1,
  },
  {
    request: {
      path: "/multiple",
      headers: { "X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2", "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val" },
    },
    expectedRequest: {
      path: "/multiple",
      headers: {
        "X-Header-Set-1": "header-set-1",
        "X-Header-Set-2": "header-set-2",
        "X-Header-Add-1": "header-add-1",
        "X-Header-Add-2": "add-val-2,header-add-2",
        "X-Header-Add-3": "header-add-3",
        "Another-Header": "another-header-val",
      },
      absentHeaders: ["X-Header-Remove-1", "X-Header-Remove-2"],
    },
    ...v1,
  },
  {
    request: {
      path: "/case-insensitivity",
      headers: { "x-header-set": "original-val-set", "x-header-add": "original-val-add", "x-header-remove": "original-val-remove", "Another-Header": "another-header-val" },
    },
    expectedRequest: {
      path: "/case-insensitivity",
      headers: { "X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add", "Another-Header": "another-header-val" },
      absentHeaders: ["x-header-remove", "X-Header-Remove"],
    },
    ...v1,
  },
];
