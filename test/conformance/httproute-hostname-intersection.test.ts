import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, gatewayListeners, routeParents } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const gwName = "httproute-hostname-intersection";
const gw = { namespace: ns, name: gwName };
const gwAll = { namespace: ns, name: "httproute-hostname-intersection-all" };
const route = (name: string, parent: string, hostnames: string[], prefix: string | null, backend: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${parent}, namespace: ${ns}}]
  hostnames: [${hostnames.map((h) => `"${h}"`).join(", ")}]
  rules:
  - ${prefix ? `matches: [{path: {type: PathPrefix, value: ${prefix}}}]\n    ` : ""}backendRefs: [{name: ${backend}, port: 8080}]
`;

const intersecting = [
  "specific-host-matches-listener-specific-host",
  "specific-host-matches-listener-wildcard-host",
  "wildcard-host-matches-listener-specific-host",
  "wildcard-host-matches-listener-wildcard-host",
].map((name) => ({ namespace: ns, name }));

conformance(
  {
    name: "HTTPRouteHostnameIntersection",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gwName}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: listener-1, port: {{port:${gwName}}}, protocol: HTTP, hostname: very.specific.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: {{port:${gwName}}}, protocol: HTTP, hostname: "*.wildcard.io", allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: {{port:${gwName}}}, protocol: HTTP, hostname: "*.anotherwildcard.io", allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gwAll.name}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: listener-1, port: {{port:${gwAll.name}}}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---${route(intersecting[0]!.name, gwName, ["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"], "/s1", "infra-backend-v1")}---${route(
        intersecting[1]!.name,
        gwName,
        ["non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"],
        "/s2",
        "infra-backend-v2",
      )}---${route(intersecting[2]!.name, gwName, ["non.matching.com", "*.specific.com"], "/s3", "infra-backend-v3")}---${route(
        intersecting[3]!.name,
        gwName,
        ["*.anotherwildcard.io"],
        "/s4",
        "infra-backend-v1",
      )}---${route("no-intersecting-hosts", gwName, ["specific.but.wrong.com", "wildcard.io"], "/s5", "infra-backend-v2")}---${route(
        gwAll.name,
        gwAll.name,
        ["first.com", "sub.first.com", "second.com", "sub.second.com"],
        null,
        "infra-backend-v2",
      )}`,
    },
    accepted: [
      { gateway: gw, routes: intersecting },
      { gateway: gwAll, routes: [{ namespace: ns, name: gwAll.name }] },
    ],
  },
  (ctx) => {
    // HTTPRoutes that do intersect with listener hostnames.
    expectCases(ctx, gwName, [
      { request: { host: "very.specific.com", path: "/s1" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "very.specific.com:1234", path: "/s1" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "non.matching.com", path: "/s1" }, status: 404 },
      { request: { host: "foo.nonmatchingwildcard.io", path: "/s1" }, status: 404 },
      { request: { host: "foo.wildcard.io", path: "/s1" }, status: 404 },
      { request: { host: "very.specific.com", path: "/non-matching-prefix" }, status: 404 },
      { request: { host: "foo.wildcard.io", path: "/s2" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "bar.wildcard.io", path: "/s2" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "foo.bar.wildcard.io", path: "/s2" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "non.matching.com", path: "/s2" }, status: 404 },
      { request: { host: "wildcard.io", path: "/s2" }, status: 404 },
      { request: { host: "very.specific.com", path: "/s2" }, status: 404 },
      { request: { host: "foo.wildcard.io", path: "/non-matching-prefix" }, status: 404 },
      { request: { host: "very.specific.com", path: "/s3" }, backend: "infra-backend-v3", namespace: ns },
      { request: { host: "non.matching.com", path: "/s3" }, status: 404 },
      { request: { host: "foo.specific.com", path: "/s3" }, status: 404 },
      { request: { host: "foo.wildcard.io", path: "/s3" }, status: 404 },
      { request: { host: "very.specific.com", path: "/non-matching-prefix" }, status: 404 },
      { request: { host: "foo.anotherwildcard.io", path: "/s4" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "bar.anotherwildcard.io", path: "/s4" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "foo.bar.anotherwildcard.io", path: "/s4" }, backend: "infra-backend-v1", namespace: ns },
      { request: { host: "anotherwildcard.io", path: "/s4" }, status: 404 },
      { request: { host: "foo.wildcard.io", path: "/s4" }, status: 404 },
      { request: { host: "very.specific.com", path: "/s4" }, status: 404 },
      { request: { host: "foo.anotherwildcard.io", path: "/non-matching-prefix" }, status: 404 },
    ]);

    test("HTTPRoutes that do not intersect with listener hostnames are not accepted (NoMatchingListenerHostname)", async () => {
      await eventually(ctx.env, (items) =>
        routeParents(
          items,
          { namespace: ns, name: "no-intersecting-hosts" },
          [{ parentRef: { name: gwName, namespace: ns }, conditions: [{ type: "Accepted", status: "False", reason: "NoMatchingListenerHostname" }] }],
          true,
        ),
      );
    });
    expectCases(ctx, gwName, [
      { request: { host: "specific.but.wrong.com", path: "/s5" }, status: 404 },
      { request: { host: "wildcard.io", path: "/s5" }, status: 404 },
    ]);

    test("HTTPRoutes are counted in attachedRoutes only if they are accepted", async () => {
      const kinds = [{ kind: "HTTPRoute" }];
      const conditions = [
        { type: "Accepted", status: "True" as const },
        { type: "ResolvedRefs", status: "True" as const },
      ];
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          { name: "listener-1", supportedKinds: kinds, attachedRoutes: 2, conditions },
          { name: "listener-2", supportedKinds: kinds, attachedRoutes: 1, conditions },
          { name: "listener-3", supportedKinds: kinds, attachedRoutes: 1, conditions },
        ]),
      );
    });

    // HTTPRoutes intersect with a listener without hostname.
    expectCases(ctx, gwAll.name, [
      { request: { host: "first.com", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "sub.first.com", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "second.com", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "sub.second.com", path: "/" }, backend: "infra-backend-v2", namespace: ns },
      { request: { host: "third.com", path: "/" }, status: 404 },
      { request: { host: "sub.third.com", path: "/" }, status: 404 },
    ]);
  },
);
