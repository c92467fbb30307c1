// One test per class of user error: file, line, field, what is wrong and what would be right.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";
import { errorsOf, expectError, FILE, gateway, route } from "./helpers.js";

test("malformed YAML reports the parser's line and column", () => {
  const d = errorsOf("apiVersion: v1\nkind: Service\nmetadata:\n  name: [a, b\n");
  assert.equal(d.length >= 1, true);
  assert.equal(d[0].source?.file, FILE);
  assert.ok((d[0].source?.line ?? 0) >= 4, JSON.stringify(d[0]));
  assert.match(d[0].message, /YAML syntax/);
  assert.match(d[0].expected ?? "", /well-formed YAML/);
});

test("a duplicate key is a YAML error at the second key", () => {
  const d = errorsOf("apiVersion: v1\nkind: Service\nkind: Secret\nmetadata: {name: a}\n");
  assert.equal(d.length, 1);
  assert.equal(d[0].source?.line, 3);
  assert.match(d[0].message, /unique/i);
});

test("a document that is not a mapping", () => {
  expectError("---\n- a\n- b\n", { field: undefined, line: 2, message: "the document is a list", expected: "apiVersion, kind and metadata.name" });
});

test("missing apiVersion, kind and metadata.name are each reported", () => {
  expectError("kind: Service\nmetadata: {name: a}\n", { field: "apiVersion", line: 1, message: 'required field "apiVersion" is missing', expected: "gateway.networking.k8s.io/v1" });
  expectError("apiVersion: v1\nmetadata: {name: a}\n", { field: "kind", line: 1, message: 'required field "kind" is missing', expected: "HTTPRoute" });
  expectError("apiVersion: v1\nkind: Service\nmetadata:\n  labels: {a: b}\n", { field: "metadata.name", line: 3, message: 'required field "name" is missing' });
});

test("unknown kinds list the kinds we know, with a suggestion", () => {
  const d = expectError("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoutes\nmetadata: {name: a}\n", {
    field: "kind",
    line: 2,
    message: 'unknown kind "HTTPRoutes"',
    expected: 'did you mean "HTTPRoute"?',
  });
  for (const k of ["GatewayClass", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute", "ReferenceGrant", "BackendTLSPolicy", "EndpointSlice", "Backend (sluice.dev/v1alpha1)"]) {
    assert.ok(d.expected?.includes(k), `known kinds should list ${k}`);
  }
});

test("a known kind under an unserved apiVersion names the right ones", () => {
  expectError("apiVersion: gateway.networking.k8s.io/v2\nkind: HTTPRoute\nmetadata: {name: a}\nspec: {}\n", {
    field: "apiVersion",
    line: 1,
    message: 'HTTPRoute has no version "v2"',
    expected: '"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"',
  });
  expectError("apiVersion: v1\nkind: Gateway\nmetadata: {name: a}\n", { field: "apiVersion", line: 1, message: 'Gateway is not served by apiVersion "v1"', expected: "gateway.networking.k8s.io/v1" });
});

test("schema: enum lists the allowed values", () => {
  expectError(route("  - matches:\n    - path: {type: Prefix, value: /a}\n"), {
    field: "spec.rules[0].matches[0].path.type",
    line: 11,
    message: 'unsupported value "Prefix"',
    expected: '"Exact", "PathPrefix", "RegularExpression"',
  });
});

test("schema: numbers out of range state the whole range, once", () => {
  const text = route("  - backendRefs:\n    - name: svc\n      port: 70000\n");
  expectError(text, { field: "spec.rules[0].backendRefs[0].port", line: 12, column: 7, message: "70000 is out of range", expected: "from 1 to 65535" });
  assert.equal(errorsOf(text).length, 1);
});

test("schema: wrong type says what it is and what it should be, once", () => {
  const text = route('  - backendRefs:\n    - name: svc\n      port: "80"\n');
  expectError(text, { field: "spec.rules[0].backendRefs[0].port", line: 12, message: '"80" is a string', expected: "an integer" });
  assert.equal(errorsOf(text).length, 1, "no duplicate of the same problem");
});

test("schema: pattern violations are explained in words", () => {
  expectError(route("  - backendRefs: [{name: svc, port: 80}]\n").replace("spec:\n", "spec:\n  hostnames: [\"Foo.Example.com\"]\n"), {
    field: "spec.hostnames[0]",
    line: 7,
    message: 'invalid value "Foo.Example.com"',
    expected: "a lowercase DNS hostname",
  });
  expectError(route("  - timeouts: {request: 10sec}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].timeouts.request",
    line: 10,
    message: '"10sec"',
    expected: '"1h2m3s"',
  });
});

test("schema: a missing required field is named", () => {
  expectError(route("  - backendRefs:\n    - port: 80\n"), { field: "spec.rules[0].backendRefs[0].name", line: 11, message: 'required field "name" is missing' });
});

test("unknown fields are errors with a did-you-mean", () => {
  expectError(route("  - backendRefs: [{name: svc, port: 80}]\n", "\n    sectionNam: http"), {
    field: "spec.parentRefs[0].sectionNam",
    line: 9,
    message: 'unknown field "sectionNam"',
    expected: 'did you mean "sectionName"?',
  });
  expectError("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports: [{port: 80}]\n  selectr: {app: a}\n", {
    field: "spec.selectr",
    line: 6,
    message: 'unknown field "selectr"',
    expected: '"selector"',
  });
});

test("object names must be RFC 1123", () => {
  expectError("apiVersion: v1\nkind: Secret\nmetadata: {name: My_Secret}\n", { field: "metadata.name", line: 3, message: 'invalid name "My_Secret"', expected: "RFC 1123 subdomain" });
});

test("CEL: listener names are unique within a Gateway", () => {
  expectError(gateway("  - {name: web, port: 80, protocol: HTTP}\n  - name: web\n    port: 8080\n    protocol: HTTP\n"), {
    field: "spec.listeners[1].name",
    line: 9,
    message: 'listener name "web" is already used by spec.listeners[0]',
    expected: "unique",
  });
});

test("CEL: port/protocol/hostname combinations are unique", () => {
  expectError(gateway("  - {name: a, port: 80, protocol: HTTP}\n  - {name: b, port: 80, protocol: HTTP}\n"), { field: "spec.listeners[1]", line: 9, message: "repeat spec.listeners[0]" });
});

test("CEL: hostname is not allowed on TCP/UDP listeners", () => {
  expectError(gateway("  - name: db\n    port: 5432\n    protocol: TCP\n    hostname: db.example.com\n"), {
    field: "spec.listeners[0].hostname",
    line: 11,
    message: 'hostname "db.example.com" is not allowed for protocol TCP',
    expected: "no hostname on TCP and UDP",
  });
});

test("CEL: HTTPS with tls.mode Terminate needs certificateRefs", () => {
  expectError(gateway("  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Terminate\n"), {
    field: "spec.listeners[0].tls.certificateRefs",
    line: 11,
    message: "no certificateRefs",
    expected: "kubernetes.io/tls",
  });
  expectError(gateway("  - name: https\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Passthrough\n      certificateRefs: [{name: c}]\n"), {
    field: "spec.listeners[0].tls.mode",
    line: 12,
    message: 'tls.mode "Passthrough" is not allowed for protocol HTTPS',
  });
  expectError(gateway("  - name: web\n    port: 80\n    protocol: HTTP\n    tls: {certificateRefs: [{name: c}]}\n"), { field: "spec.listeners[0].tls", line: 11, message: "tls is not allowed for protocol HTTP" });
});

test("CEL: a filter's type must match the one populated field", () => {
  expectError(route("  - filters:\n    - type: RequestHeaderModifier\n      responseHeaderModifier: {set: [{name: a, value: b}]}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].responseHeaderModifier",
    line: 12,
    message: 'responseHeaderModifier is set but the filter\'s type is "RequestHeaderModifier"',
    expected: "type: ResponseHeaderModifier",
  });
  expectError(route("  - filters:\n    - type: URLRewrite\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].type",
    line: 11,
    message: 'type is "URLRewrite" but urlRewrite is not set',
  });
});

test("CEL: RequestRedirect and URLRewrite are not both in a rule; redirect excludes backendRefs", () => {
  expectError(route("  - filters:\n    - type: RequestRedirect\n      requestRedirect: {scheme: https}\n    - type: URLRewrite\n      urlRewrite: {hostname: a.example.com}\n"), {
    field: "spec.rules[0].filters[1].type",
    line: 13,
    message: "RequestRedirect (index 0) and URLRewrite (index 1) are both used",
    expected: "not both",
  });
  expectError(route("  - filters:\n    - type: RequestRedirect\n      requestRedirect: {scheme: https}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0]",
    line: 11,
    message: "cannot be combined with backendRefs",
  });
});

test("CEL: ReplacePrefixMatch needs exactly one PathPrefix match", () => {
  expectError(
    route("  - matches:\n    - path: {type: Exact, value: /a}\n    filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}\n    backendRefs: [{name: svc, port: 80}]\n"),
    { field: "spec.rules[0].filters[0].urlRewrite.path.type", line: 15, message: 'path match type is "Exact"', expected: "exactly one match with a PathPrefix path" },
  );
  expectError(route("  - filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {type: ReplaceFullPath, replacePrefixMatch: /b}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath",
    line: 13,
    message: "type is ReplaceFullPath but replaceFullPath is not set",
  });
});

test("CEL: Exact/PathPrefix values are absolute clean paths", () => {
  expectError(route("  - matches:\n    - path: {type: PathPrefix, value: api}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].matches[0].path.value",
    line: 11,
    message: 'path "api" does not start with "/"',
    expected: 'starting with "/"',
  });
  expectError(route("  - matches:\n    - path: {value: /a//b}\n    backendRefs: [{name: svc, port: 80}]\n"), { field: "spec.rules[0].matches[0].path.value", line: 11, message: 'contains "//"' });
});

test("header and query match names are unique per match", () => {
  expectError(route("  - matches:\n    - headers:\n      - {name: X-Env, value: a}\n      - {name: x-env, value: b}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].matches[0].headers[1].name",
    line: 13,
    message: 'header "x-env" is matched twice',
    expected: "case-insensitive",
  });
  expectError(route("  - matches:\n    - queryParams:\n      - {name: q, value: a}\n      - {name: q, value: b}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].matches[0].queryParams[1].name",
    line: 13,
    message: 'query parameter "q" is matched twice',
  });
});

test("header modifiers: names unique and not repeated across set/add/remove", () => {
  expectError(route("  - filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier:\n        set: [{name: X-A, value: '1'}]\n        remove: [x-a]\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].requestHeaderModifier.remove[0]",
    line: 14,
    message: 'header "x-a" is already modified by set[0]',
    expected: "at most once across set, add and remove",
  });
});

test("backendRef to a Service needs a port", () => {
  expectError(route("  - backendRefs:\n    - name: svc\n"), { field: "spec.rules[0].backendRefs[0].port", line: 11, message: 'backend Service "svc" has no port', expected: "1-65535" });
});

test("weights, retry codes and mirror percentages are range-checked", () => {
  expectError(route("  - backendRefs:\n    - {name: svc, port: 80, weight: 1000001}\n"), { field: "spec.rules[0].backendRefs[0].weight", line: 11, message: "1000001 is out of range", expected: "from 0 to 1000000" });
  expectError(route("  - retry:\n      codes: [302]\n    backendRefs: [{name: svc, port: 80}]\n"), { field: "spec.rules[0].retry.codes[0]", line: 11, message: "302 is out of range", expected: "from 400 to 599" });
  expectError(route("  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        percent: 150\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].requestMirror.percent",
    line: 14,
    message: "150 is out of range",
    expected: "from 0 to 100",
  });
});

test("mirror fraction: numerator <= denominator, and not together with percent", () => {
  expectError(route("  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        fraction: {numerator: 5, denominator: 4}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].requestMirror.fraction.numerator",
    line: 14,
    message: "numerator 5 is greater than denominator 4",
  });
  expectError(route("  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        percent: 10\n        fraction: {numerator: 1}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].filters[0].requestMirror.fraction",
    line: 15,
    message: "both percent and fraction are set",
  });
});

test("timeouts: backendRequest may not exceed request", () => {
  expectError(route("  - timeouts: {request: 1s, backendRequest: 1m}\n    backendRefs: [{name: svc, port: 80}]\n"), {
    field: "spec.rules[0].timeouts.backendRequest",
    line: 10,
    message: 'backendRequest "1m" is longer than request "1s"',
  });
  assert.deepEqual(errorsOf(route("  - timeouts: {request: 0s, backendRequest: 1m}\n    backendRefs: [{name: svc, port: 80}]\n")), [], "request 0s means no limit");
});

test("parentRefs to the same parent need distinct sectionNames", () => {
  expectError(route("  - backendRefs: [{name: svc, port: 80}]\n", "\n  - name: gw"), {
    field: "spec.parentRefs[1].sectionName",
    line: 9,
    message: "parentRefs[0] and parentRefs[1] refer to the same parent",
  });
});

test("a valid route produces no diagnostics", () => {
  const r = parseDocuments(route("  - matches:\n    - path: {type: PathPrefix, value: /api}\n    backendRefs: [{name: svc, port: 80, weight: 3}]\n"), FILE);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.objects.filter((o) => o.object.kind === "HTTPRoute").length, 1);
});

test("invalid objects are left out of the result", () => {
  const r = parseDocuments(route("  - backendRefs:\n    - name: svc\n"), FILE);
  assert.equal(r.objects.some((o) => o.object.kind === "HTTPRoute"), false);
});

test("core kinds: Service ports and EndpointSlice addresses are checked like the API server does", () => {
  expectError("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 99999\n", { field: "spec.ports[0].port", line: 6, message: "99999 is out of range", expected: "1 to 65535" });
  expectError("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - {name: a, port: 80}\n  - {name: a, port: 81}\n", { field: "spec.ports[1].name", line: 7, message: 'port name "a" is also used by spec.ports[0]' });
  expectError("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints:\n- addresses: [\"::1\"]\n", {
    field: "endpoints[0].addresses[0]",
    line: 6,
    message: '"::1" is not a valid IPv4 address',
  });
});

test("GRPCRoute: filter shape, method match and backend port rules", () => {
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g}
spec:
  rules:
  - matches:
    - method: {type: Exact}
    filters:
    - {type: RequestMirror, requestHeaderModifier: {set: [{name: a, value: b}]}}
    backendRefs: [{name: s, port: 50051}]
`;
  expectError(text, { field: "spec.rules[0].matches[0].method", line: 7, message: "neither service nor method is set" });
  expectError(text, { field: "spec.rules[0].filters[0].requestHeaderModifier", line: 9, message: 'the filter\'s type is "RequestMirror"' });
});

test("wrongly-typed containers give one error and no cascade", () => {
  const errs = errorsOf(route("  - backendRefs: {name: x}\n"));
  assert.equal(errs.length, 1);
  assert.equal(errs[0].field, "spec.rules[0].backendRefs");
  assert.match(errs[0].message, /is a mapping/);
  assert.equal(errs[0].expected, "a list");
});

test("kinds handled by other parts are validated, defaulted and passed through", () => {
  const r = parseDocuments(
    "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: db}\nspec:\n  parentRefs: [{name: gw, sectionName: pg}]\n  rules: [{backendRefs: [{name: pg, port: 5432}]}]\n",
    FILE,
  );
  assert.deepEqual(r.diagnostics, []);
  const spec = r.objects[0].object.spec as { parentRefs: unknown[]; rules: { backendRefs: unknown[] }[] };
  assert.deepEqual(spec.parentRefs[0], { name: "gw", sectionName: "pg", group: "gateway.networking.k8s.io", kind: "Gateway" });
  assert.deepEqual(spec.rules[0].backendRefs[0], { name: "pg", port: 5432, group: "", kind: "Service", weight: 1 });
});

test("GatewayClass spec.description is a known field, limited to 64 characters", () => {
  const cls = (d: string): string => `apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec:\n  controllerName: sluice.dev/gateway-controller\n  description: ${d}\n`;
  assert.deepEqual(errorsOf(cls("a short description")), []);
  expectError(cls("x".repeat(65)), { field: "spec.description", line: 6, message: "65 characters", expected: "at most 64 characters" });
  expectError(cls("[1, 2]"), { field: "spec.description", line: 6, message: "is not a string", expected: "64 characters" });
});
