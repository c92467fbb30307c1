import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askUdp, checkL4Weights, expectL4, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-weighted-gateway" };
const route = { namespace: INFRA_NS, name: "udp-weighted-route" };

// Each probe comes from a fresh socket (a new client address, so a new session), as upstream's.
conformance(
  {
    name: "UDPRouteWeightedRouting",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "backends.yaml": ["udp-backend-v1", "udp-backend-v2", "udp-backend-v3"].map((n) => l4Service(INFRA_NS, n, [{ name: "udp", port: 8080, kind: "udp" }])).join(""),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-weighted-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: udp, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-weighted-route, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-weighted-gateway, sectionName: udp}]
  rules:
  - backendRefs:
    - {name: udp-backend-v1, port: 8080, weight: 70}
    - {name: udp-backend-v2, port: 8080, weight: 30}
    - {name: udp-backend-v3, port: 8080, weight: 0}
`,
    },
  },
  (ctx) => {
    test("Gateway and UDPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "UDPRoute", gw, [route]);
    });
    test("client sessions are spread 70/30 across the weighted backends and none reach the weight-0 one", async () => {
      const ask = () => askUdp(ctx.env.port("udp"));
      await expectL4(ask, { backend: "udp-backend-v", namespace: INFRA_NS });
      await checkL4Weights(ask, { "udp-backend-v1": 0.7, "udp-backend-v2": 0.3, "udp-backend-v3": 0 });
    });
  },
);
