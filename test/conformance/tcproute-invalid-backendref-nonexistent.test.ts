import { test } from "node:test";
import net from "node:net";
import assert from "node:assert/strict";
import { INFRA_NS } from "./harness/env.js";
import { l4RouteCondition } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "tcp-gateway-invalid-backend" };
const route = { namespace: INFRA_NS, name: "tcp-route-invalid-backend-ref-nonexistent" };

conformance(
  {
    name: "TCPRouteInvalidBackendRefNonexistent",
    features: ["SupportGateway", "SupportTCPRoute (provisional)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tcp-gateway-invalid-backend, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: tcp, protocol: TCP, port: {{port:tcp}}, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp-route-invalid-backend-ref-nonexistent, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: tcp-gateway-invalid-backend, sectionName: tcp}]
  rules: [{backendRefs: [{name: nonexistent-service, port: 8080}]}]
`,
    },
  },
  (ctx) => {
    test("TCPRoute has ResolvedRefs=False/BackendNotFound", async () => {
      await eventually(ctx.env, (items) => l4RouteCondition(items, "TCPRoute", route, gw, { type: "ResolvedRefs", status: "False", reason: "BackendNotFound" }));
    });
    // Beyond upstream: the connection is refused (closed without a byte), as the spec asks of an
    // unresolved backendRef.
    test("a connection to the listener is closed without an answer", async () => {
      const got = await new Promise<string>((resolve) => {
        const s = net.connect({ port: ctx.env.port("tcp"), host: "127.0.0.1" });
        let data = "";
        s.on("data", (c: Buffer) => (data += c.toString()));
        s.on("connect", () => s.write("ping\n"));
        s.on("error", () => resolve(`error:${data}`));
        s.on("close", () => resolve(`closed:${data}`));
        setTimeout(() => {
          s.destroy();
          resolve("timeout");
        }, 2000).unref();
      });
      assert.match(got, /^(closed|error):$/);
    });
  },
);
