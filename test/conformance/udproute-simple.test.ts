import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askUdp, expectL4, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-gateway" };
const route = { namespace: INFRA_NS, name: "udp-coredns" };

// Upstream sends a DNS query to a CoreDNS backend; here the backend is a UDP echo pod that answers
// each datagram with its identity, which shows the request reached it and the answer came back.
conformance(
  {
    name: "UDPRoute",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "coredns", [{ name: "dns", port: 53, kind: "udp" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: coredns, protocol: UDP, port: {{port:udp}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp-coredns, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-gateway, sectionName: coredns}]
  rules: [{backendRefs: [{name: coredns, port: 53}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and UDPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "UDPRoute", gw, [route]);
    });
    test("a UDP request through the UDPRoute reaches the backend and is answered", async () => {
      await expectL4(() => askUdp(ctx.env.port("udp")), { backend: "coredns", namespace: INFRA_NS });
    });
  },
);
