import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually, find, hasCondition, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const name = "gatewayclass-observed-generation-bump";
const gc = (description: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${name}}
spec:
  controllerName: sluice.dev/gateway-controller
  description: "${description}"
`;
const accepted = (items: Parameters<typeof find>[0]): string | null =>
  latestConditions(items, "GatewayClass", { name }) ?? hasCondition(find(items, "GatewayClass", { name })?.status?.conditions, { type: "Accepted" });

conformance(
  {
    name: "GatewayClassObservedGenerationBump",
    features: ["core"],
    manifests: { "class.yaml": gc("old") },
  },
  (ctx) => {
    test("observedGeneration should increment", async () => {
      const before = await eventually(ctx.env, accepted);
      const gen = find(before, "GatewayClass", { name })!.metadata.generation;
      await ctx.env.apply({ "class.yaml": gc("new") });
      const after = await eventually(ctx.env, (items) => (find(items, "GatewayClass", { name })?.metadata.generation === gen ? "generation not bumped yet" : accepted(items)));
      assert.notEqual(find(after, "GatewayClass", { name })!.metadata.generation, gen);
    });
  },
);
