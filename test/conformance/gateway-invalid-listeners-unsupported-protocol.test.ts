import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayCondition, gatewayListeners, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const invalid = { name: "invalid", supportedKinds: [], attachedRoutes: 0, conditions: [{ type: "Accepted", status: "False" as const, reason: "UnsupportedProtocol" }] };

conformance(
  {
    name: "GatewayListenerUnsupportedProtocol",
    features: ["core"],
    manifests: {
      "case.yaml": [
        gatewayYaml(ns, "gateway-only-unsupported-protocols", [`{name: invalid, port: {{port:invalid-1}}, protocol: INVALID}`]),
        gatewayYaml(ns, "gateway-supported-and-unsupported-protocols", [`{name: http, port: {{port:http}}, protocol: HTTP}`, `{name: invalid, port: {{port:invalid-2}}, protocol: INVALID}`]),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway with no accepted listener is not accepted (ListenersNotValid); the listener has Accepted=False/UnsupportedProtocol", async () => {
      const gw = { namespace: ns, name: "gateway-only-unsupported-protocols" };
      await eventually(ctx.env, (items) =>
        latestConditions(items, "Gateway", gw) ??
        gatewayCondition(items, gw, { type: "Accepted", status: "False", reason: "ListenersNotValid" }) ??
        gatewayListeners(items, gw, [invalid]),
      );
    });
    test("Gateway with at least one accepted listener is accepted (ListenersNotValid) and each listener has its own Accepted condition", async () => {
      const gw = { namespace: ns, name: "gateway-supported-and-unsupported-protocols" };
      await eventually(ctx.env, (items) =>
        latestConditions(items, "Gateway", gw) ??
        gatewayCondition(items, gw, { type: "Accepted", status: "True", reason: "ListenersNotValid" }) ??
        gatewayListeners(items, gw, [
          { name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }] },
          invalid,
        ]),
      );
    });
  },
);
