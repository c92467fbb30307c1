import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { HTTP_ROUTE_KIND, routeYaml } from "./harness/gateway-yaml.js";
import { grantYaml, secretGateway } from "./harness/secret-grant.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-secret-reference-grant-all-in-namespace" };

conformance(
  {
    name: "GatewaySecretReferenceGrantAllInNamespace",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "case.yaml": [
        secretGateway(gw.name),
        grantYaml("reference-grant-all-in-namespace", WEB_NS, `{group: gateway.networking.k8s.io, kind: Gateway, namespace: ${INFRA_NS}}`, `{group: "", kind: Secret}`),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway listener should have ResolvedRefs=True and Programmed=True/Programmed", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          {
            name: "https",
            supportedKinds: HTTP_ROUTE_KIND,
            attachedRoutes: 0,
            conditions: [
              { type: "Programmed", status: "True", reason: "Programmed" },
              { type: "ResolvedRefs", status: "True" },
            ],
          },
        ]),
      );
    });
    // Beyond upstream: the granted certificate is the one served.
    test("the listener serves the granted certificate", async () => {
      await ctx.env.apply({ "route.yaml": routeYaml(INFRA_NS, "via-granted-cert", `{name: ${gw.name}}`) });
      const ca = ctx.env.certs.get(`${WEB_NS}/certificate`)!.certPem;
      await expectResponse(ctx.env.port(gw.name), { request: { host: "example.org", path: "/" }, backend: "infra-backend-v1", namespace: INFRA_NS }, { tls: { ca }, windowMs: 3000 });
    });
  },
);
