import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { gatewayYaml, routeYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayZeroRoutes, routeCondition, routeNoAcceptedParents } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tlsroutes-only" };
const route = { namespace: INFRA_NS, name: "disallowed-kind" };

conformance(
  {
    name: "HTTPRouteDisallowedKind",
    features: ["core", "SupportTLSRoute"],
    manifests: {
      "case.yaml":
        gatewayYaml(INFRA_NS, gw.name, [
          `{name: tls, port: {{port:tls}}, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}}`,
        ]) +
        "---\n" +
        routeYaml(INFRA_NS, route.name, `{name: ${gw.name}}`, "infra-backend-v1", "  hostnames: [disallowed-kind.example.com]\n"),
    },
  },
  (ctx) => {
    test("HTTPRoute on a TLSRoute-only listener is not accepted (NotAllowedByListeners)", async () => {
      await eventually(ctx.env, (items) => routeCondition(items, route, gw, { type: "Accepted", status: "False", reason: "NotAllowedByListeners" }));
    });
    test("Route should not have accepted parents", async () => {
      await eventually(ctx.env, (items) => routeNoAcceptedParents(items, route));
    });
    test("Gateway should have 0 routes attached", async () => {
      await eventually(ctx.env, (items) => gatewayZeroRoutes(items, gw));
    });
  },
);
