import { test } from "node:test";
import assert from "node:assert/strict";
import { INFRA_NS } from "./harness/env.js";
import { askUdp, expectL4, l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-multi-route-attach-gateway" };
const older = { namespace: INFRA_NS, name: "udproute-attach-older" };
const newer = { namespace: INFRA_NS, name: "udproute-attach-newer" };

// Upstream creates the newer route a second after the older one is accepted; here the newer route
// is written into the config folder after the older one is accepted, with a later creationTimestamp.
const routeYaml = (name: string, backend: string, created: string): string => `
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: ${name}, namespace: ${INFRA_NS}, creationTimestamp: "${created}"}
spec:
  parentRefs: [{name: udp-multi-route-attach-gateway, sectionName: udp}]
  rules: [{backendRefs: [{name: ${backend}, port: 8080}]}]
`;

conformance(
  {
    name: "UDPRouteMultipleRoutesAttachment",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "backends.yaml": ["udp-attach-backend-1", "udp-attach-backend-2"].map((n) => l4Service(INFRA_NS, n, [{ name: "udp", port: 8080, kind: "udp" }])).join(""),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-multi-route-attach-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: udp, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
`,
      "older.yaml": routeYaml("udproute-attach-older", "udp-attach-backend-1", "2024-01-01T00:00:00Z"),
    },
  },
  (ctx) => {
    test("the older UDPRoute is accepted", async () => {
      await mustBeL4Accepted(ctx.env, "UDPRoute", gw, [older]);
    });
    test("after the newer UDPRoute is added, both are Accepted", async () => {
      await ctx.env.apply({ "newer.yaml": routeYaml("udproute-attach-newer", "udp-attach-backend-2", "2024-01-01T00:00:01Z") });
      const accepted = { type: "Accepted", status: "True", reason: "Accepted" } as const;
      await eventually(ctx.env, (items) => l4RouteCondition(items, "UDPRoute", older, gw, accepted) ?? l4RouteCondition(items, "UDPRoute", newer, gw, accepted));
    });
    test("the listener reports 2 attached routes", async () => {
      await eventually(ctx.env, (items) =>
        gatewayListeners(items, gw, [{ name: "udp", supportedKinds: [{ kind: "UDPRoute" }], attachedRoutes: 2, conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }] }]),
      );
    });
    test("only the oldest UDPRoute receives traffic", async () => {
      const ask = () => askUdp(ctx.env.port("udp"));
      await expectL4(ask, { backend: "udp-attach-backend-1", namespace: INFRA_NS });
      for (let i = 0; i < 20; i++) {
        const got = await ask();
        assert.ok(got.pod.startsWith("udp-attach-backend-1-"), `probe ${i} reached ${got.pod}`);
      }
    });
  },
);
