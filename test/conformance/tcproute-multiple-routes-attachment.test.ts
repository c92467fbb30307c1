import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { l4RouteCondition } from "./harness/l4.js";
import { eventually, find } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-multi-route-attach-gateway" };
const older = { namespace: INFRA_NS, name: "tcproute-attach-older" };
const newer = { namespace: INFRA_NS, name: "tcproute-attach-newer" };

// The backends are HTTP echo pods: an HTTP request relayed byte for byte over the TCP listener tells
// which pod answered, as upstream's TCP echo does.
conformance(
  {
    name: "TCPRouteMultipleRoutesAttachment",
    features: ["SupportTCPRoute"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-multi-route-attach-gateway, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: tcp, port: {{port:tcp}}, protocol: TCP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcproute-attach-older, namespace: ${INFRA_NS}, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: tcp-multi-route-attach-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcproute-attach-newer, namespace: ${INFRA_NS}, creationTimestamp: "2024-01-01T00:00:01Z"}
spec:
  parentRefs: [{name: tcp-multi-route-attach-gateway, sectionName: tcp}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("both TCPRoutes are Accepted", async () => {
      await eventually(ctx.env, (items) =>
        l4RouteCondition(items, "TCPRoute", older, gw, { type: "Accepted", status: "True", reason: "Accepted" }) ??
        l4RouteCondition(items, "TCPRoute", newer, gw, { type: "Accepted", status: "True", reason: "Accepted" }),
      );
    });
    test("the listener reports 2 attached routes and supports TCPRoute", async () => {
      await eventually(ctx.env, (items) => {
        const l = find(items, "Gateway", gw)?.status?.listeners?.find((x) => x.name === "tcp");
        if (!l) return "no listener status";
        if (!(l.supportedKinds ?? []).some((k) => k.kind === "TCPRoute")) return `supportedKinds ${JSON.stringify(l.supportedKinds)}`;
        return l.attachedRoutes === 2 ? null : `attachedRoutes ${l.attachedRoutes}`;
      });
    });
    expectCases(ctx, "tcp", [{ name: "only the oldest TCPRoute receives traffic", request: { path: "/" }, backend: "infra-backend-v1", namespace: INFRA_NS }]);
  },
);
