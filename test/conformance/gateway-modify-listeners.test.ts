import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml, routeYaml } from "./harness/gateway-yaml.js";
import { expectResponse } from "./harness/http.js";
import { eventually, find, gatewayListeners, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const all = "allowedRoutes: {namespaces: {from: All}}";
const https = (key: string): string =>
  `{name: https, port: {{port:${key}}}, protocol: HTTPS, hostname: secure.test.com, ${all}, tls: {certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: ${ns}}]}}`;
const ok = [
  { type: "Accepted", status: "True" as const },
  { type: "ResolvedRefs", status: "True" as const },
];
const addGw = (withHttp: boolean): string =>
  gatewayYaml(ns, "gateway-add-listener", [https("add-https"), ...(withHttp ? [`{name: http, port: {{port:add-http}}, protocol: HTTP, hostname: data.test.com, ${all}}`] : [])]);
const removeGw = (withHttps: boolean): string =>
  gatewayYaml(ns, "gateway-remove-listener", [...(withHttps ? [https("remove-https")] : []), `{name: http, port: {{port:remove-http}}, protocol: HTTP, ${all}}`]);

conformance(
  {
    name: "GatewayModifyListeners",
    features: ["core"],
    manifests: {
      "add.yaml": addGw(false),
      "remove.yaml": removeGw(true),
      "routes.yaml": [
        routeYaml(ns, "http-route-1", `{kind: Gateway, name: gateway-add-listener, namespace: ${ns}}`),
        routeYaml(ns, "http-route-2", `{kind: Gateway, name: gateway-remove-listener, namespace: ${ns}}`),
      ].join("---"),
    },
  },
  (ctx) => {
    test("should be able to add a listener that then becomes available for routing traffic", async () => {
      const gw = { namespace: ns, name: "gateway-add-listener" };
      const before = await eventually(ctx.env, (items) => latestConditions(items, "Gateway", gw));
      const gen = find(before, "Gateway", gw)!.metadata.generation;
      await ctx.env.apply({ "add.yaml": addGw(true) });
      const after = await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          { name: "https", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 1, conditions: ok },
          { name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 1, conditions: ok },
        ]) ?? latestConditions(items, "Gateway", gw),
      );
      assert.notEqual(find(after, "Gateway", gw)!.metadata.generation, gen, "generation should change after an update");
      // Beyond upstream's status checks: the new listener serves.
      await expectResponse(ctx.env.port("add-http"), { request: { host: "data.test.com", path: "/" }, backend: "infra-backend-v1", namespace: ns }, { windowMs: 3000 });
    });
    test("should be able to remove listeners, which would then stop routing the relevant traffic", async () => {
      const gw = { namespace: ns, name: "gateway-remove-listener" };
      const before = await eventually(ctx.env, (items) => latestConditions(items, "Gateway", gw));
      const gen = find(before, "Gateway", gw)!.metadata.generation;
      const ca = ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
      await expectResponse(ctx.env.port("remove-https"), { request: { host: "secure.test.com", path: "/" }, backend: "infra-backend-v1", namespace: ns }, { tls: { ca } });
      await ctx.env.apply({ "remove.yaml": removeGw(false) });
      const after = await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [{ name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 1, conditions: ok }]) ?? latestConditions(items, "Gateway", gw),
      );
      assert.notEqual(find(after, "Gateway", gw)!.metadata.generation, gen, "generation should change after an update");
      // The removed listener's port no longer serves.
      await assert.rejects(
        expectResponse(ctx.env.port("remove-https"), { request: { host: "secure.test.com", path: "/" }, status: 200 }, { tls: { ca }, windowMs: 0, consecutive: 1 }),
      );
    });
  },
);
