import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { HTTP_ROUTE_KIND, gatewayYaml, routeYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayListeners, routeCondition } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const sel = `allowedRoutes: {kinds: [{kind: HTTPRoute}], namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}}}`;
const ok = [
  { type: "Accepted", status: "True" as const },
  { type: "ResolvedRefs", status: "True" as const },
];
const ref = (gw: string, section = ""): string => `{kind: Gateway, name: ${gw}, namespace: ${ns}${section ? `, sectionName: ${section}` : ""}}`;

conformance(
  {
    name: "GatewayWithAttachedRoutes",
    features: ["core"],
    manifests: {
      "case.yaml": [
        gatewayYaml(ns, "gateway-with-one-attached-route", [`{name: http, port: {{port:one}}, protocol: HTTP, ${sel}}`]),
        routeYaml(ns, "http-route-1", ref("gateway-with-one-attached-route")),
        gatewayYaml(ns, "gateway-with-two-attached-routes", [`{name: http, port: {{port:two}}, protocol: HTTP, hostname: foo.example.com, ${sel}}`]),
        routeYaml(ns, "http-route-2", ref("gateway-with-two-attached-routes")),
        routeYaml(ns, "http-route-3", ref("gateway-with-two-attached-routes")),
        routeYaml(ns, "http-route-not-accepted", ref("gateway-with-two-attached-routes"), "infra-backend-v1", "  hostnames: [not-accepted.test.com]\n"),
        gatewayYaml(
          ns,
          "unresolved-gateway-with-one-attached-unresolved-route",
          [`{name: tls, port: {{port:unresolved}}, protocol: HTTPS, ${sel}, tls: {mode: Terminate, certificateRefs: [{group: "", kind: Secret, name: does-not-exist}]}}`],
        ),
        routeYaml(ns, "http-route-4", ref("unresolved-gateway-with-one-attached-unresolved-route", "tls"), "does-not-exist"),
      ].join("---"),
    },
  },
  (ctx) => {
    test("Gateway listener should have one valid http route attached", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, { namespace: ns, name: "gateway-with-one-attached-route" }, [{ name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 1, conditions: ok }]),
      );
    });
    test("Gateway listener should have two valid http routes attached", async () => {
      const gw = { namespace: ns, name: "gateway-with-two-attached-routes" };
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [{ name: "http", supportedKinds: HTTP_ROUTE_KIND, attachedRoutes: 2, conditions: ok }]) ??
        routeCondition(items, { namespace: ns, name: "http-route-not-accepted" }, gw, { type: "Accepted", status: "False", reason: "NoMatchingListenerHostname" }),
      );
    });
    test("Gateway listener should have attachedRoutes set even when the Gateway has unresolved refs", async () => {
      const gw = { namespace: ns, name: "unresolved-gateway-with-one-attached-unresolved-route" };
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [
          {
            name: "tls",
            supportedKinds: HTTP_ROUTE_KIND,
            attachedRoutes: 1,
            conditions: [
              { type: "Programmed", status: "False" },
              { type: "ResolvedRefs", status: "False" },
            ],
          },
        ]) ?? routeCondition(items, { namespace: ns, name: "http-route-4" }, gw, { type: "ResolvedRefs", status: "False" }),
      );
    });
  },
);
