import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askUdp, expectL4, l4AcceptedParent, l4Service } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "udp-multi-listener-gateway" };
const scenarios = [
  { title: "by port", route: "udp-route-by-port", listener: "by-port", backend: "udp-echo-by-port", parent: "port: {{port:by-port}}" },
  { title: "by sectionName", route: "udp-route-by-section", listener: "by-section", backend: "udp-echo-by-section", parent: "sectionName: by-section" },
  {
    title: "by sectionName and port",
    route: "udp-route-by-section-and-port",
    listener: "by-section-and-port",
    backend: "udp-echo-by-section-and-port",
    parent: "sectionName: by-section-and-port, port: {{port:by-section-and-port}}",
  },
];

conformance(
  {
    name: "UDPRouteParentRefPortAndSectionName",
    features: ["SupportGateway", "SupportUDPRoute (provisional)"],
    manifests: {
      "backends.yaml": scenarios.map((s) => l4Service(INFRA_NS, s.backend, [{ name: "udp", port: 8080, kind: "udp" }])).join(""),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: udp-multi-listener-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${scenarios.map((s) => `  - {name: ${s.listener}, protocol: UDP, port: {{port:${s.listener}}}, allowedRoutes: {kinds: [{kind: UDPRoute}]}}`).join("\n")}
${scenarios
  .map(
    (s) => `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: ${s.route}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: udp-multi-listener-gateway, ${s.parent}}]
  rules: [{backendRefs: [{name: ${s.backend}, port: 8080}]}]`,
  )
  .join("\n")}
`,
    },
  },
  (ctx) => {
    for (const s of scenarios) {
      test(`UDPRoute attaches to a UDP listener ${s.title} and its datagrams reach ${s.backend}`, async () => {
        await eventually(ctx.env, (items) => l4AcceptedParent(items, "UDPRoute", { namespace: INFRA_NS, name: s.route }, gw));
        await expectL4(() => askUdp(ctx.env.port(s.listener)), { backend: s.backend, namespace: INFRA_NS });
      });
    }
  },
);
