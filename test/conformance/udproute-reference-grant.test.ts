import { test } from "node:test";
import { APP_NS, INFRA_NS } from "./harness/env.js";
import { askUdp, expectL4, l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-gateway-reference-grant" };
const route = { namespace: INFRA_NS, name: "udp-route-reference-grant" };

conformance(
  {
    name: "UDPRouteReferenceGrant",
    features: ["SupportGateway", "SupportUDPRoute", "SupportReferenceGrant (provisional)"],
    manifests: {
      "backend.yaml": l4Service(APP_NS, "udp-echo-reference-grant", [{ name: "udp", port: 8080, kind: "udp" }]),
      "grant.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: udp-reference-grant, namespace: ${APP_NS}}
spec:
  from: [{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: ${INFRA_NS}}]
  to: [{group: "", kind: Service, name: udp-echo-reference-grant}]
`,
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-gateway-reference-grant, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: udp, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-route-reference-grant, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-gateway-reference-grant, sectionName: udp}]
  rules: [{backendRefs: [{name: udp-echo-reference-grant, namespace: ${APP_NS}, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and UDPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "UDPRoute", gw, [route]);
    });
    test("UDPRoute has ResolvedRefs=True while the ReferenceGrant exists", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", route, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }));
    });
    test("a datagram reaches the cross-namespace backend and its answer comes back", async () => {
      await expectL4(() => askUdp(ctx.env.port("udp")), { backend: "udp-echo-reference-grant", namespace: APP_NS });
    });
    test("after the ReferenceGrant is deleted, ResolvedRefs becomes False/RefNotPermitted", async () => {
      await ctx.env.apply({ "grant.yaml": null });
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
  },
);
