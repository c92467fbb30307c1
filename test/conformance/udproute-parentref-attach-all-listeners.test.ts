import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askUdp, expectL4, l4AcceptedParent, l4Service } from "./harness/l4.js";
import { eventually, gatewayListeners } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-attach-all-listeners-gateway" };
const route = { namespace: INFRA_NS, name: "udp-route-attach-all" };
const LISTENERS = ["udp-1", "udp-2", "udp-3"];

conformance(
  {
    name: "UDPRouteParentRefAttachAllListeners",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "udp-echo-attach-all", [{ name: "udp", port: 8080, kind: "udp" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-attach-all-listeners-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${LISTENERS.map((l) => `  - {name: ${l}, protocol: UDP, port: {{port:${l}}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}`).join("\n")}
---
# Neither port nor sectionName: attaches to every UDP listener.
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-route-attach-all, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-attach-all-listeners-gateway}]
  rules: [{backendRefs: [{name: udp-echo-attach-all, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("UDPRoute is accepted by the Gateway", async () => {
      await eventually(ctx.env, (items) => l4AcceptedParent(items, "UDPRoute", route, gw));
    });
    test("every UDP listener has the UDPRoute attached", async () => {
      const ready = [
        { type: "Accepted", status: "True" as const },
        { type: "ResolvedRefs", status: "True" as const },
      ];
      await eventually(ctx.env, (items) =>
        gatewayListeners(
          items,
          gw,
          LISTENERS.map((name) => ({ name, supportedKinds: [{ kind: "UDPRoute" }], attachedRoutes: 1, conditions: ready })),
        ),
      );
    });
    for (const l of LISTENERS) {
      test(`a datagram to listener ${l} reaches the backend`, async () => {
        await expectL4(() => askUdp(ctx.env.port(l)), { backend: "udp-echo-attach-all", namespace: INFRA_NS });
      });
    }
  },
);
