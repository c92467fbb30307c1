import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";
import type { K8sObject } from "../../../src/resources/types.js";

function load(text: string, kind: string): K8sObject {
  const r = parseDocuments(text, "d.yaml");
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error"), []);
  const o = r.objects.find((x) => x.object.kind === kind);
  assert.ok(o, `no ${kind} loaded`);
  return o.object;
}

test("HTTPRoute defaults: matches, path, header/query types, backendRefs, parentRefs, redirect status", () => {
  const o = load(
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: svc, port: 80}]
  - matches:
    - headers: [{name: x-a, value: "1"}]
      queryParams: [{name: q, value: v}]
    - path: {type: Exact, value: /x}
    - path: {value: /y}
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
`,
    "HTTPRoute",
  );
  assert.equal(o.metadata.namespace, "default");
  const spec = o.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(spec.parentRefs, [{ name: "gw", group: "gateway.networking.k8s.io", kind: "Gateway" }]);
  assert.deepEqual(spec.rules[0].matches, [{ path: { type: "PathPrefix", value: "/" } }]);
  assert.deepEqual(spec.rules[0].backendRefs, [{ name: "svc", port: 80, group: "", kind: "Service", weight: 1 }]);
  assert.deepEqual(spec.rules[1].matches[0], {
    headers: [{ name: "x-a", value: "1", type: "Exact" }],
    queryParams: [{ name: "q", value: "v", type: "Exact" }],
    path: { type: "PathPrefix", value: "/" },
  });
  assert.deepEqual(spec.rules[1].matches[1].path, { type: "Exact", value: "/x" });
  assert.deepEqual(spec.rules[1].matches[2].path, { type: "PathPrefix", value: "/y" });
  assert.equal(spec.rules[1].filters[0].requestRedirect.statusCode, 302);
});

test("HTTPRoute without rules gets the catch-all rule", () => {
  const o = load("apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: gw}]}\n", "HTTPRoute");
  assert.deepEqual((o.spec as { rules: unknown }).rules, [{ matches: [{ path: { type: "PathPrefix", value: "/" } }] }]);
});

test("Gateway defaults: allowedRoutes from Same, tls mode Terminate, certificateRefs kind Secret", () => {
  const o = load(
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: sluice
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - name: https
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: cert}]}
    allowedRoutes: {kinds: [{kind: HTTPRoute}]}
`,
    "Gateway",
  );
  const ls = (o.spec as { listeners: Record<string, unknown>[] }).listeners;
  assert.deepEqual(ls[0].allowedRoutes, { namespaces: { from: "Same" } });
  assert.deepEqual(ls[1].tls, { mode: "Terminate", certificateRefs: [{ name: "cert", group: "", kind: "Secret" }] });
  assert.deepEqual(ls[1].allowedRoutes, { kinds: [{ kind: "HTTPRoute", group: "gateway.networking.k8s.io" }], namespaces: { from: "Same" } });
});

test("Service defaults: protocol TCP and targetPort = port; EndpointSlice ready true; Secret type Opaque", () => {
  const svc = load("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{name: web, port: 8080}, {name: dns, port: 53, protocol: UDP, targetPort: dns}]\n", "Service");
  assert.deepEqual((svc.spec as { ports: unknown }).ports, [
    { name: "web", port: 8080, protocol: "TCP", targetPort: 8080 },
    { name: "dns", port: 53, protocol: "UDP", targetPort: "dns" },
  ]);
  const es = load(
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1}\naddressType: IPv4\nports: [{port: 80}]\nendpoints:\n- addresses: [10.0.0.1]\n- addresses: [10.0.0.2]\n  conditions: {ready: false}\n",
    "EndpointSlice",
  );
  const eps = es.endpoints as { conditions: { ready: boolean } }[];
  assert.equal(eps[0].conditions.ready, true);
  assert.equal(eps[1].conditions.ready, false);
  assert.deepEqual(es.ports, [{ port: 80, protocol: "TCP" }]);
  assert.equal(load("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "Secret").type, "Opaque");
});

test("cluster-scoped kinds get no namespace", () => {
  const gc = load("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec: {controllerName: sluice.dev/gateway-controller}\n", "GatewayClass");
  assert.equal(gc.metadata.namespace, undefined);
});
