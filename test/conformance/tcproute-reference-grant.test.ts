import { test } from "node:test";
import { INFRA_NS, WEB_NS } from "./harness/env.js";
import { askTcp, expectL4, l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-reference-grant-gateway" };
const route = { namespace: INFRA_NS, name: "tcp-reference-grant" };

conformance(
  {
    name: "TCPRouteReferenceGrant",
    features: ["SupportGateway", "SupportTCPRoute", "SupportReferenceGrant (provisional)"],
    manifests: {
      "backend.yaml": l4Service(WEB_NS, "tcp-reference-grant-backend", [{ name: "tcp", port: 3000, kind: "tcp" }]),
      "grant.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: tcp-reference-grant, namespace: ${WEB_NS}}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: ${INFRA_NS}}]
  to: [{group: "", kind: Service, name: tcp-reference-grant-backend}]
`,
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-reference-grant-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: tcp, protocol: TCP, port: {{port:tcp}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-reference-grant, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-reference-grant-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: tcp-reference-grant-backend, namespace: ${WEB_NS}, port: 3000}]}]
`,
    },
  },
  (ctx) => {
    test("Gateway and TCPRoute are accepted", async () => {
      await mustBeL4Accepted(ctx.env, "TCPRoute", gw, [route], true);
    });
    test("a TCP connection reaches the cross-namespace backend", async () => {
      await expectL4(() => askTcp(ctx.env.port("tcp")), { backend: "tcp-reference-grant-backend", namespace: WEB_NS, tls: false });
    });
    test("after the ReferenceGrant is deleted, ResolvedRefs becomes False/RefNotPermitted", async () => {
      await ctx.env.apply({ "grant.yaml": null });
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TCPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "RefNotPermitted" }));
    });
  },
);
