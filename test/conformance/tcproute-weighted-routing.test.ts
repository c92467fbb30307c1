import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTcp, checkL4Weights, expectL4, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-weighted-gateway" };
const route = { namespace: INFRA_NS, name: "tcp-weighted-route" };

conformance(
  {
    name: "TCPRouteWeightedRouting",
    features: ["SupportGateway", "SupportTCPRoute (provisional)"],
    manifests: {
      "backends.yaml": ["tcp-backend-v1", "tcp-backend-v2", "tcp-backend-v3"].map((n) => l4Service(INFRA_NS, n, [{ name: "tcp", port: 3000, kind: "tcp" }])).join(""),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-weighted-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: tcp, protocol: TCP, port: {{port:tcp}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-weighted-route, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-weighted-gateway, sectionName: tcp}]
  rules:
  - backendRefs:
    - {name: tcp-backend-v1, port: 3000, weight: 70}
    - {name: tcp-backend-v2, port: 3000, weight: 30}
    - {name: tcp-backend-v3, port: 3000, weight: 0}
`,
    },
  },
  (ctx) => {
    test("Gateway and TCPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TCPRoute", gw, [route]);
    });
    test("connections are spread 70/30 across the weighted backends and none reach the weight-0 one", async () => {
      const ask = () => askTcp(ctx.env.port("tcp"));
      await expectL4(ask, { backend: "tcp-backend-v", namespace: INFRA_NS });
      await checkL4Weights(ask, { "tcp-backend-v1": 0.7, "tcp-backend-v2": 0.3, "tcp-backend-v3": 0 });
    });
  },
);
