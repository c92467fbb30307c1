import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";
import type { Diagnostic } from "../../../src/resources/types.js";

export const FILE = "routes/test.yaml";

export function errorsOf(text: string): Diagnostic[] {
  return parseDocuments(text, FILE).diagnostics.filter((d) => d.severity === "error");
}

/** The single error diagnostic at a field, checked for file, line, message and expected fragments. */
export function expectError(text: string, want: { field?: string; line: number; column?: number; message: string; expected?: string }): Diagnostic {
  const errs = errorsOf(text);
  const hits = errs.filter((d) => d.field === want.field);
  assert.equal(hits.length, 1, `expected one error at ${want.field ?? "(document)"}, got:\n${errs.map((d) => JSON.stringify(d)).join("\n")}`);
  const d = hits[0];
  assert.equal(d.source?.file, FILE);
  assert.equal(d.source?.line, want.line, `line of ${JSON.stringify(d)}`);
  if (want.column !== undefined) assert.equal(d.source?.column, want.column);
  assert.ok(d.message.includes(want.message), `message ${JSON.stringify(d.message)} lacks ${JSON.stringify(want.message)}`);
  if (want.expected !== undefined) assert.ok(d.expected?.includes(want.expected), `expected ${JSON.stringify(d.expected)} lacks ${JSON.stringify(want.expected)}`);
  return d;
}

export const route = (rules: string, extra = ""): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: apps
spec:
  parentRefs:
  - name: gw${extra}
  rules:
${rules}`;
// line numbers inside route(): the first line of `rules` is line 10.

export const gateway = (listeners: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: sluice
  listeners:
${listeners}`;
// the first line of `listeners` is line 8.
