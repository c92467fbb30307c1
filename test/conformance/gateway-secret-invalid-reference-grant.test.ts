import { test } from "node:test";
import { APP_NS, INFRA_NS, WEB_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND } from "./harness/gateway-yaml.js";
import { grantYaml, secretGateway } from "./harness/secret-grant.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "gateway-secret-invalid-reference-grant" };
const okFrom = `{group: gateway.networking.k8s.io, kind: Gateway, namespace: ${INFRA_NS}}`;
const okTo = `{group: "", kind: Secret, name: certificate}`;

// Each grant is wrong in one field, so none permits the reference.
conformance(
  {
    name: "GatewaySecretInvalidReferenceGrant",
    features: ["core", "SupportReferenceGrant"],
    manifests: {
      "case.yaml": [
        secretGateway(gw.name),
        grantYaml("reference-grant-wrong-namespace", APP_NS, okFrom, okTo),
        grantYaml("reference-grant-wrong-from-group", WEB_NS, `{group: not-the-group-youre-looking-for, kind: Gateway, namespace: ${INFRA_NS}}`, okTo),
        grantYaml("reference-grant-wrong-from-kind", WEB_NS, `{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${INFRA_NS}}`, okTo),
        grantYaml("reference-grant-wrong-from-namespace", WEB_NS, `{group: gateway.networking.k8s.io, kind: Gateway, namespace: not-the-namespace-youre-looking-for}`, okTo),
        grantYaml("reference-grant-wrong-to-group", WEB_NS, okFrom, `{group: not-the-group-youre-looking-for, kind: Secret, name: certificate}`),
        grantYaml("reference-grant-wrong-to-kind", WEB_NS, okFrom, `{group: "", kind: Service, name: certificate}`),
        grantYaml("reference-grant-wrong-to-name", WEB_NS, okFrom, `{group: "", kind: Secret, name: not-the-certificate-youre-looking-for}`),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway listener should have ResolvedRefs=False/RefNotPermitted", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [{ name: "https", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 0, conditions: [{ type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }] }]),
      );
    });
  },
);
