import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTcp, expectL4, l4AcceptedParent, l4Service } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-multi-listener-gateway" };
const scenarios = [
  { title: "by port", route: "tcp-route-by-port", listener: "one", backend: "tcp-echo-one", parent: "port: {{port:one}}" },
  { title: "by sectionName", route: "tcp-route-by-section", listener: "two", backend: "tcp-echo-two", parent: "sectionName: two" },
  { title: "by sectionName and port", route: "tcp-route-by-section-and-port", listener: "three", backend: "tcp-echo-three", parent: "sectionName: three, port: {{port:three}}" },
];

conformance(
  {
    name: "TCPRouteParentRefPortAndSectionName",
    features: ["SupportGateway", "SupportTCPRoute (provisional)"],
    manifests: {
      "backends.yaml": scenarios.map((s) => l4Service(INFRA_NS, s.backend, [{ name: "tcp", port: 3000, kind: "tcp" }])).join(""),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-multi-listener-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${scenarios.map((s) => `  - {name: ${s.listener}, protocol: TCP, port: {{port:${s.listener}}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}`).join("\n")}
${scenarios
  .map(
    (s) => `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: ${s.route}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-multi-listener-gateway, ${s.parent}}]
  rules: [{backendRefs: [{name: ${s.backend}, port: 3000}]}]`,
  )
  .join("\n")}
`,
    },
  },
  (ctx) => {
    for (const s of scenarios) {
      test(`TCPRoute attaches to a TCP listener ${s.title} and its traffic reaches ${s.backend}`, async () => {
        await eventually(ctx.env, (items) => l4AcceptedParent(items, "TCPRoute", { namespace: INFRA_NS, name: s.route }, gw));
        await expectL4(() => askTcp(ctx.env.port(s.listener)), { backend: s.backend, namespace: INFRA_NS, tls: false });
      });
    }
  },
);
