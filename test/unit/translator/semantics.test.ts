// Unit tests for the translator's tricky rules, on the pure helpers and through translate().
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDuration } from "../../../src/resources/duration.js";
import { compareHostSpecificity, effectiveHostnames, intersectHostname } from "../../../src/translator/hostnames.js";
import { selectorMismatch } from "../../../src/translator/selectors.js";
import { referencePermitted } from "../../../src/translator/reference-grants.js";
import { ResourceIndex } from "../../../src/translator/kinds.js";
import { CONTROLLER_NAME, translate } from "../../../src/translator/index.js";
import type { K8sObject } from "../../../src/resources/types.js";
import type { IrRoute } from "../../../src/ir/types.js";

const GW = "gateway.networking.k8s.io/v1";

function obj(apiVersion: string, kind: string, name: string, namespace: string | undefined, body: Record<string, unknown>, meta: Record<string, unknown> = {}): K8sObject {
  return { apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}), ...meta }, ...body };
}
const gatewayClass = () => obj(GW, "GatewayClass", "sluice", undefined, { spec: { controllerName: CONTROLLER_NAME } });
const gateway = (name: string, listeners: unknown[], ns = "default", meta: Record<string, unknown> = {}) =>
  obj(GW, "Gateway", name, ns, { spec: { gatewayClassName: "sluice", listeners } }, meta);
const route = (name: string, spec: Record<string, unknown>, ns = "default", meta: Record<string, unknown> = {}) => obj(GW, "HTTPRoute", name, ns, { spec }, meta);
const service = (name: string, ns = "default", port = 80) => obj("v1", "Service", name, ns, { spec: { ports: [{ port }] } });

function run(objects: K8sObject[]) {
  return translate(objects, { controllerName: CONTROLLER_NAME });
}
function statusOf(r: ReturnType<typeof run>, kind: string, name: string, ns = "default") {
  const s = r.statuses.find((e) => e.ref.kind === kind && e.ref.name === name && (e.ref.namespace ?? "") === (kind === "GatewayClass" ? "" : ns));
  assert.ok(s, `no status for ${kind} ${ns}/${name}`);
  return s.status as Record<string, any>;
}
function cond(conds: { type: string; status: string; reason: string }[], type: string) {
  const c = conds.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return `${c.status}/${c.reason}`;
}
function routesOn(r: ReturnType<typeof run>, port: number, host: string): IrRoute[] {
  const l = r.config.listeners.find((x) => x.port === port);
  assert.ok(l, `no listener on ${port}`);
  const vh = l.gatewayListeners.flatMap((g) => g.virtualHosts).find((v) => v.hostname === host);
  assert.ok(vh, `no virtual host ${host}`);
  return vh.routes;
}

test("durations: units, combinations, zero and invalid forms", () => {
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1h2m3s4ms"), 3_723_004);
  assert.equal(parseDuration("1s500ms"), 1_500);
  assert.equal(parseDuration("0s"), 0);
  for (const bad of ["", "1", "1d", "1.5s", "-1s", "1 s", "s", "1h1h1h1h1h", "123456s", "10 seconds"]) {
    assert.equal(parseDuration(bad), null, bad);
  }
});

test("hostname intersection follows the spec's wildcard rules", () => {
  assert.equal(intersectHostname(null, "a.example.com"), "a.example.com");
  assert.equal(intersectHostname("a.example.com", "a.example.com"), "a.example.com");
  assert.equal(intersectHostname("*.example.com", "a.example.com"), "a.example.com");
  assert.equal(intersectHostname("*.example.com", "a.b.example.com"), "a.b.example.com");
  assert.equal(intersectHostname("*.example.com", "example.com"), null);
  assert.equal(intersectHostname("a.example.com", "*.example.com"), "a.example.com");
  assert.equal(intersectHostname("*.example.com", "*.a.example.com"), "*.a.example.com");
  assert.equal(intersectHostname("*.a.example.com", "*.example.com"), "*.a.example.com");
  assert.equal(intersectHostname("*.example.com", "*.example.net"), null);
  assert.equal(intersectHostname("a.example.com", "b.example.com"), null);
  // "*.example.com" must not match "badexample.com" (label boundary).
  assert.equal(intersectHostname("*.example.com", "badexample.com"), null);
  assert.deepEqual(effectiveHostnames("*.example.com", []), ["*.example.com"]);
  assert.deepEqual(effectiveHostnames(null, []), ["*"]);
  assert.deepEqual(effectiveHostnames("*.example.com", ["x.example.net", "b.example.com", "a.example.com"]), ["a.example.com", "b.example.com"]);
  assert.deepEqual(effectiveHostnames("a.example.com", ["x.example.net"]), []);
});

test("hostname specificity: exact, then longer wildcards, then catch-all", () => {
  const hosts = ["*", "*.example.com", "b.example.com", "*.a.example.com", "a.example.com"];
  assert.deepEqual([...hosts].sort(compareHostSpecificity), ["a.example.com", "b.example.com", "*.a.example.com", "*.example.com", "*"]);
  assert.ok(compareHostSpecificity(null, "*.x.com") > 0);
});

test("label selectors: matchLabels and every matchExpressions operator", () => {
  const labels = { team: "a", env: "prod" };
  assert.equal(selectorMismatch({}, labels), null);
  assert.equal(selectorMismatch({ matchLabels: { team: "a" } }, labels), null);
  assert.notEqual(selectorMismatch({ matchLabels: { team: "b" } }, labels), null);
  assert.equal(selectorMismatch({ matchExpressions: [{ key: "env", operator: "In", values: ["prod", "dev"] }] }, labels), null);
  assert.notEqual(selectorMismatch({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }, labels), null);
  assert.equal(selectorMismatch({ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, labels), null);
  assert.equal(selectorMismatch({ matchExpressions: [{ key: "team", operator: "Exists" }] }, labels), null);
  assert.notEqual(selectorMismatch({ matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, labels), null);
  assert.notEqual(selectorMismatch({ matchExpressions: [{ key: "team", operator: "Bogus" }] }, labels), null);
});

test("ReferenceGrant: referrer group/kind/namespace and target kind/name must all match", () => {
  const grant = (to: Record<string, unknown>) =>
    obj("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "g", "data", {
      spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "apps" }], to: [to] },
    });
  const from = { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "apps" };
  const target = { group: "", kind: "Service", namespace: "data", name: "db" };
  assert.equal(referencePermitted(new ResourceIndex([]), from, target), false);
  assert.equal(referencePermitted(new ResourceIndex([]), from, { ...target, namespace: "apps" }), true, "same namespace needs no grant");
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Service" })]), from, target), true);
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Service", name: "db" })]), from, target), true);
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Service", name: "other" })]), from, target), false);
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Secret" })]), from, target), false);
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Service" })]), { ...from, namespace: "else" }, target), false);
  assert.equal(referencePermitted(new ResourceIndex([grant({ group: "", kind: "Service" })]), { ...from, kind: "GRPCRoute" }, target), false);
  // A grant in the referrer's namespace does not count: it must live with the target.
  const misplaced = obj("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "g", "apps", {
    spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "apps" }], to: [{ group: "", kind: "Service" }] },
  });
  assert.equal(referencePermitted(new ResourceIndex([misplaced]), from, target), false);
});

test("cross-namespace backendRef: RefNotPermitted gives a 500 share, a grant fixes it", () => {
  const objects = [
    gatewayClass(),
    gateway("gw", [{ name: "http", port: 80, protocol: "HTTP" }]),
    route("r", { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "db", namespace: "data", port: 80 }] }] }),
    service("db", "data"),
  ];
  let r = run(objects);
  assert.equal(cond(statusOf(r, "HTTPRoute", "r").parents[0].conditions, "ResolvedRefs"), "False/RefNotPermitted");
  assert.deepEqual(routesOn(r, 80, "*")[0].action, { type: "forward", backends: [{ cluster: null, weight: 1, filters: {} }] });
  assert.deepEqual(r.config.clusters, []);
  r = run([
    ...objects,
    obj("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "g", "data", {
      spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "default" }], to: [{ group: "", kind: "Service" }] },
    }),
  ]);
  assert.equal(cond(statusOf(r, "HTTPRoute", "r").parents[0].conditions, "ResolvedRefs"), "True/ResolvedRefs");
  assert.deepEqual(r.config.clusters.map((c) => c.name), ["service/data/db/80"]);
});

test("precedence: Exact, regex, longest prefix, method, headers, query params, age, name, rule order", () => {
  const m = (path: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ path, ...extra });
  const objects = [
    gatewayClass(),
    gateway("gw", [{ name: "http", port: 80, protocol: "HTTP" }]),
    route(
      "b-newer",
      {
        parentRefs: [{ name: "gw" }],
        rules: [
          { matches: [m({ type: "PathPrefix", value: "/a" })] },
          { matches: [m({ type: "PathPrefix", value: "/a" }, { queryParams: [{ name: "q", value: "1" }] })] },
          { matches: [m({ type: "PathPrefix", value: "/a" }, { headers: [{ name: "h", value: "1" }] })] },
          { matches: [m({ type: "PathPrefix", value: "/a" }, { method: "GET" })] },
          { matches: [m({ type: "PathPrefix", value: "/abc" })] },
          { matches: [m({ type: "RegularExpression", value: "/r.*" })] },
          { matches: [m({ type: "Exact", value: "/a" })] },
        ],
      },
      "default",
      { creationTimestamp: "2024-05-01T00:00:00Z" },
    ),
    route("c-older", { parentRefs: [{ name: "gw" }], rules: [{ matches: [m({ type: "PathPrefix", value: "/a" })] }] }, "default", { creationTimestamp: "2020-01-01T00:00:00Z" }),
    route("a-newer", { parentRefs: [{ name: "gw" }], rules: [{ matches: [m({ type: "PathPrefix", value: "/a" })] }] }, "default", { creationTimestamp: "2024-05-01T00:00:00Z" }),
  ];
  const names = routesOn(run(objects), 80, "*").map((x) => x.name.replace("httproute/default/", "").replace("/match/0", ""));
  assert.deepEqual(names, [
    "b-newer/rule/6", // Exact
    "b-newer/rule/5", // RegularExpression
    "b-newer/rule/4", // longest prefix
    "b-newer/rule/3", // method
    "b-newer/rule/2", // header
    "b-newer/rule/1", // query param
    "c-older/rule/0", // oldest
    "a-newer/rule/0", // same age: alphabetical
    "b-newer/rule/0",
  ]);
});

test("listener conflicts: protocol and hostname within a Gateway, older Gateway wins across Gateways", () => {
  const r = run([
    gatewayClass(),
    gateway("old", [{ name: "a", port: 80, protocol: "HTTP", hostname: "a.example.com" }], "default", { creationTimestamp: "2020-01-01T00:00:00Z" }),
    gateway(
      "new",
      [
        { name: "a", port: 80, protocol: "HTTP", hostname: "a.example.com" },
        { name: "b", port: 80, protocol: "HTTP", hostname: "b.example.com" },
        { name: "x", port: 81, protocol: "HTTP" },
        { name: "y", port: 81, protocol: "HTTPS", tls: { certificateRefs: [{ name: "none" }] } },
      ],
      "default",
      { creationTimestamp: "2021-01-01T00:00:00Z" },
    ),
  ]);
  const old = statusOf(r, "Gateway", "old");
  const neu = statusOf(r, "Gateway", "new");
  assert.equal(cond(old.listeners[0].conditions, "Conflicted"), "False/NoConflicts");
  assert.equal(cond(neu.listeners[0].conditions, "Conflicted"), "True/HostnameConflict");
  assert.equal(cond(neu.listeners[0].conditions, "Programmed"), "False/Invalid");
  assert.equal(cond(neu.listeners[1].conditions, "Conflicted"), "False/NoConflicts");
  assert.equal(cond(neu.listeners[2].conditions, "Conflicted"), "True/ProtocolConflict");
  assert.equal(cond(neu.listeners[3].conditions, "Conflicted"), "True/ProtocolConflict");
  assert.equal(cond(neu.conditions, "Accepted"), "True/ListenersNotValid");
  // Port 80 carries both Gateways' surviving listeners, most specific hostname first.
  assert.deepEqual(
    r.config.listeners.map((l) => [l.name, l.gatewayListeners.map((g) => g.name)]),
    [["http-80", ["default/old/a", "default/new/b"]]],
  );
});

test("attachment reasons: NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname, Accepted", () => {
  const r = run([
    gatewayClass(),
    gateway("gw", [
      { name: "web", port: 80, protocol: "HTTP", hostname: "*.example.com" },
      { name: "tcp", port: 90, protocol: "TCP" },
    ]),
    route("no-parent", { parentRefs: [{ name: "gw", sectionName: "nope" }] }),
    route("wrong-port", { parentRefs: [{ name: "gw", sectionName: "web", port: 81 }] }),
    route("other-ns", { parentRefs: [{ name: "gw", namespace: "default" }] }, "elsewhere"),
    route("tcp-only", { parentRefs: [{ name: "gw", sectionName: "tcp" }] }),
    route("host", { parentRefs: [{ name: "gw" }], hostnames: ["example.org"] }),
    route("ok", { parentRefs: [{ name: "gw", port: 80 }], hostnames: ["www.example.com"] }),
  ]);
  const reason = (name: string, ns = "default") => cond(statusOf(r, "HTTPRoute", name, ns).parents[0].conditions, "Accepted");
  assert.equal(reason("no-parent"), "False/NoMatchingParent");
  assert.equal(reason("wrong-port"), "False/NoMatchingParent");
  assert.equal(reason("other-ns", "elsewhere"), "False/NotAllowedByListeners");
  assert.equal(reason("tcp-only"), "False/NotAllowedByListeners");
  assert.equal(reason("host"), "False/NoMatchingListenerHostname");
  assert.equal(reason("ok"), "True/Accepted");
  const parent = statusOf(r, "HTTPRoute", "ok").parents[0];
  assert.equal(parent.controllerName, CONTROLLER_NAME);
  assert.deepEqual(parent.parentRef, { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw", port: 80 });
  // Only the accepted route counts; the hostname mismatch does not attach.
  assert.equal(statusOf(r, "Gateway", "gw").listeners[0].attachedRoutes, 1);
  assert.deepEqual(routesOn(r, 80, "www.example.com").map((x) => x.ref.name), ["ok"]);
  for (const name of ["no-parent", "wrong-port", "tcp-only", "host"]) {
    assert.ok(r.diagnostics.some((d) => d.ref?.name === name && d.severity === "error"), `diagnostic for ${name}`);
  }
});

test("translate does not mutate its input", () => {
  const objects = [gatewayClass(), gateway("gw", [{ name: "http", port: 80, protocol: "HTTP" }]), route("r", { parentRefs: [{ name: "gw" }], rules: [{}] })];
  const before = JSON.stringify(objects);
  run(objects);
  assert.equal(JSON.stringify(objects), before);
});

test("objects of other controllers get no status and produce no IR", () => {
  const r = translate(
    [gatewayClass(), gateway("gw", [{ name: "http", port: 80, protocol: "HTTP" }]), route("r", { parentRefs: [{ name: "gw" }] })],
    { controllerName: "example.com/another" },
  );
  assert.deepEqual(r.statuses, []);
  assert.deepEqual(r.config, { listeners: [], clusters: [] });
});

test("RequestRedirect on a backendRef: carried on that backend, refs resolved, route fully valid", () => {
  const r = run([
    gatewayClass(),
    gateway("gw", [{ name: "http", port: 80, protocol: "HTTP" }]),
    route("r", {
      parentRefs: [{ name: "gw" }],
      rules: [
        {
          backendRefs: [
            { name: "svc", port: 80, filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", port: 8443, path: { type: "ReplaceFullPath", replaceFullPath: "/x" } } }] },
            { name: "svc", port: 80, weight: 3 },
          ],
        },
      ],
    }),
    service("svc"),
  ]);
  const conds = statusOf(r, "HTTPRoute", "r").parents[0].conditions;
  assert.equal(cond(conds, "Accepted"), "True/Accepted");
  assert.equal(cond(conds, "ResolvedRefs"), "True/ResolvedRefs");
  assert.equal(conds.find((c: { type: string }) => c.type === "PartiallyInvalid"), undefined);
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(routesOn(r, 80, "*")[0].action, {
    type: "forward",
    backends: [
      {
        cluster: "service/default/svc/80",
        weight: 1,
        filters: { redirect: { type: "redirect", statusCode: 302, scheme: "https", port: 8443, path: { type: "ReplaceFullPath", value: "/x" } } },
      },
      { cluster: "service/default/svc/80", weight: 3, filters: {} },
    ],
  });
});

test("objects with the same identity: the canonically smallest copy wins whatever the order; identical copies are not duplicates", () => {
  const a = route("r", { parentRefs: [{ name: "gw" }], hostnames: ["a.example"] });
  const b = route("r", { parentRefs: [{ name: "gw" }], hostnames: ["b.example"] });
  const c = route("r", { parentRefs: [{ name: "gw" }], hostnames: ["c.example"] });
  const winners = [[a, b, c], [c, b, a], [b, c, a], [b, a, c]].map((rs) => {
    const idx = new ResourceIndex([gatewayClass(), ...rs.map((x) => structuredClone(x))]);
    assert.equal(idx.duplicates.length, 2);
    assert.equal(idx.httpRoutes.length, 1);
    return (idx.httpRoutes[0]!.obj.spec as { hostnames: string[] }).hostnames[0];
  });
  assert.deepEqual(winners, ["a.example", "a.example", "a.example", "a.example"]);
  const same = new ResourceIndex([a, structuredClone(a), structuredClone(a)]);
  assert.equal(same.duplicates.length, 0);
  assert.equal(same.httpRoutes.length, 1);
});
