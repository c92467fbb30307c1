import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml, routeYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gwName = "gateway-with-two-listeners-and-one-attached-route";
const all = "allowedRoutes: {kinds: [{kind: HTTPRoute}], namespaces: {from: All}}";
const ok = [
  { type: "Accepted", status: "True" as const },
  { type: "ResolvedRefs", status: "True" as const },
];

// Upstream's listeners on 8080 and 80 are two free ports here.
conformance(
  {
    name: "GatewayWithAttachedRoutesWithPort8080",
    features: ["SupportGatewayPort8080 (any non-default port here)"],
    manifests: {
      "case.yaml": [
        gatewayYaml(ns, gwName, [`{name: http-unattached, port: {{port:p8080}}, protocol: HTTP, ${all}}`, `{name: http, port: {{port:p80}}, protocol: HTTP, ${all}}`]),
        routeYaml(ns, "http-route-4-port-8080", `{kind: Gateway, name: ${gwName}, namespace: ${ns}, sectionName: http}`),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway listener should have the route attached by sectionName", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, { namespace: ns, name: gwName }, [
          { name: "http-unattached", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: ok },
          { name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 1, conditions: ok },
        ]),
      );
    });
  },
);
