import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";
import { errorsOf, expectError } from "./helpers.js";

const backend = (endpoints: string, extra = ""): string => `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata:
  name: static
spec:
  endpoints:
${endpoints}${extra}`;
// first endpoint line is 7

test("a valid Backend loads with defaults", () => {
  const r = parseDocuments(backend("  - ip: {address: 10.0.0.1, port: 8080}\n  - fqdn: {hostname: api.example.com, port: 443}\n    weight: 3\n  - unix: {path: /run/app.sock}\n", "  appProtocols: [kubernetes.io/h2c]\n"), "routes/test.yaml");
  assert.deepEqual(r.diagnostics, []);
  const spec = r.objects[0].object.spec as { endpoints: { weight: number }[] };
  assert.deepEqual(spec.endpoints.map((e) => e.weight), [1, 3, 1]);
  assert.equal(r.objects[0].object.metadata.namespace, "default");
});

test("Backend: exactly one of ip, fqdn, unix", () => {
  expectError(backend("  - ip: {address: 10.0.0.1, port: 80}\n    unix: {path: /run/a.sock}\n"), { field: "spec.endpoints[0].unix", line: 8, message: "sets ip and unix", expected: "exactly one of ip, fqdn or unix" });
  expectError(backend("  - weight: 2\n"), { field: "spec.endpoints[0]", line: 7, message: "none of ip, fqdn or unix" });
});

test("Backend: addresses, hostnames, ports and paths are checked", () => {
  expectError(backend("  - ip: {address: example.com, port: 80}\n"), { field: "spec.endpoints[0].ip.address", line: 7, message: '"example.com" is not an IP address', expected: "use fqdn" });
  expectError(backend("  - ip:\n      address: 10.0.0.1\n      port: 0\n"), { field: "spec.endpoints[0].ip.port", line: 9, message: "0 is out of range", expected: "from 1 to 65535" });
  expectError(backend("  - fqdn: {hostname: Bad_Host, port: 80}\n"), { field: "spec.endpoints[0].fqdn.hostname", line: 7, message: '"Bad_Host" is not a valid hostname' });
  expectError(backend("  - fqdn: {hostname: a.example.com}\n"), { field: "spec.endpoints[0].fqdn.port", line: 7, message: 'required field "port" is missing' });
  expectError(backend("  - unix: {path: run/a.sock}\n"), { field: "spec.endpoints[0].unix.path", line: 7, message: "not an absolute path" });
});

test("Backend: appProtocols and unknown fields", () => {
  expectError(backend("  - unix: {path: /a.sock}\n", "  appProtocols: [h2c]\n"), { field: "spec.appProtocols[0]", line: 8, message: 'unsupported value "h2c"', expected: '"kubernetes.io/h2c", "kubernetes.io/ws"' });
  expectError(backend("  - unix: {path: /a.sock}\n    wieght: 2\n"), { field: "spec.endpoints[0].wieght", line: 8, message: 'unknown field "wieght"', expected: 'did you mean "weight"?' });
  expectError(backend("  - unix: {path: /a.sock}\n", "  fallback: true\n"), { field: "spec.fallback", line: 8, message: 'unknown field "fallback"' });
  assert.equal(errorsOf("apiVersion: sluice.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\n")[0].field, "spec");
});
