import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTcp, expectL4, l4AcceptedParent, l4Service } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-attach-all-gateway" };
const route = { namespace: INFRA_NS, name: "tcp-route-attach-all" };
const LISTENERS = ["one", "two", "three", "four"];

conformance(
  {
    name: "TCPRouteParentRefAttachAll",
    features: ["SupportGateway", "SupportTCPRoute (provisional)"],
    manifests: {
      "backend.yaml": l4Service(INFRA_NS, "tcp-echo-attach-all", [{ name: "tcp", port: 3000, kind: "tcp" }]),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-attach-all-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${LISTENERS.map((l) => `  - {name: ${l}, protocol: TCP, port: {{port:${l}}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}`).join("\n")}
---
# Neither port nor sectionName: attaches to every TCP listener.
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-route-attach-all, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-attach-all-gateway}]
  rules: [{backendRefs: [{name: tcp-echo-attach-all, port: 3000}]}]
`,
    },
  },
  (ctx) => {
    test("TCPRoute is Accepted on the Gateway", async () => {
      await eventually(ctx.env, (items) => l4AcceptedParent(items, "TCPRoute", route, gw));
    });
    for (const l of LISTENERS) {
      test(`listener ${l} routes to the attach-all backend`, async () => {
        await expectL4(() => askTcp(ctx.env.port(l)), { backend: "tcp-echo-attach-all", namespace: INFRA_NS, tls: false });
      });
    }
  },
);
