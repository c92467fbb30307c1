import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND } from "./harness/gateway-yaml.js";
import { secretGateway } from "./harness/secret-grant.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-secret-missing-reference-grant" };

conformance(
  {
    name: "GatewaySecretMissingReferenceGrant",
    features: ["core", "SupportReferenceGrant"],
    manifests: { "case.yaml": secretGateway(gw.name) },
  },
  (ctx) => {
    test("Gateway listener should have ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [{ name: "https", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: [{ type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }] }]),
      );
    });
  },
);
