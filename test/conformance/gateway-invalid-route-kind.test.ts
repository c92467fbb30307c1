import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const invalid = [{ type: "ResolvedRefs", status: "False" as const, reason: "InvalidRouteKinds" }];

conformance(
  {
    name: "GatewayInvalidRouteKind",
    features: ["core"],
    manifests: {
      "case.yaml": [
        gatewayYaml(ns, "gateway-only-invalid-route-kind", [`{name: http, port: {{port:a}}, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: InvalidRoute}]}}`]),
        gatewayYaml(ns, "gateway-supported-and-invalid-route-kind", [
          `{name: http, port: {{port:b}}, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: InvalidRoute}, {kind: HTTPRoute}]}}`,
        ]),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Listener with only an invalid route kind has ResolvedRefs=False/InvalidRouteKinds and no supportedKinds", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, { namespace: ns, name: "gateway-only-invalid-route-kind" }, [{ name: "http", supportedKinds: [], attachedRoutes: 0, conditions: invalid }]),
      );
    });
    test("Listener with a valid and an invalid route kind has ResolvedRefs=False/InvalidRouteKinds and HTTPRoute in supportedKinds", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, { namespace: ns, name: "gateway-supported-and-invalid-route-kind" }, [
          { name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: invalid },
        ]),
      );
    });
  },
);
