import assert from "node:assert/strict";
import { test } from "node:test";
import { GATEWAY_CLASS, INFRA_NS } from "./harness/env.js";
import { eventually, find, gatewayClassAccepted } from "./harness/status.js";
import { conformance, expectCases } from "./harness/suite.js";

const gw = { namespace: INFRA_NS, name: "same-namespace" };
const route = { namespace: INFRA_NS, name: "gateway-conformance-infra-test" };

conformance(
  {
    name: "HTTPRouteSimpleSameNamespace",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: gateway-conformance-infra-test, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
    },
    accepted: [{ gateway: gw, routes: [route] }],
  },
  (ctx) => {
    test("GatewayClass is accepted", async () => {
      await eventually(ctx.env, (items) => gatewayClassAccepted(items, GATEWAY_CLASS));
    });
    // Upstream finds the gateway's address in status.addresses; a standalone gateway must still report one.
    test("Gateway reports an address", async () => {
      const items = await eventually(ctx.env, (items) => (find(items, "Gateway", gw)?.status?.addresses?.length ? null : "Gateway has no status.addresses"));
      const addrs = find(items, "Gateway", gw)!.status!.addresses!;
      assert.ok(addrs.every((a) => typeof a.value === "string" && a.value.length > 0), JSON.stringify(addrs));
    });
    expectCases(ctx, "same-namespace", [
      { name: "Simple HTTP request should reach infra-backend", request: { path: "/" }, backend: "infra-backend-v1", namespace: INFRA_NS },
    ]);
  },
);
