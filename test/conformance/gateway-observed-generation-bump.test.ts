import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, find, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "gateway-observed-generation-bump" };
const listeners = (alt: boolean): string[] => [
  `{name: http, hostname: bar.com, port: {{port:gw}}, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}`,
  ...(alt ? [`{name: alternate, hostname: foo.com, port: {{port:gw}}, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}`] : []),
];

conformance(
  {
    name: "GatewayObservedGenerationBump",
    features: ["core"],
    manifests: { "case.yaml": gatewayYaml(ns, gw.name, listeners(false)) },
  },
  (ctx) => {
    test("observedGeneration should increment", async () => {
      const before = await eventually(ctx.env, (items) => latestConditions(items, "Gateway", gw));
      const gen = find(before, "Gateway", gw)!.metadata.generation;
      await ctx.env.apply({ "case.yaml": gatewayYaml(ns, gw.name, listeners(true)) });
      const after = await eventually(ctx.env, (items) =>
        find(items, "Gateway", gw)?.metadata.generation === gen ? "generation not bumped yet" : latestConditions(items, "Gateway", gw),
      );
      assert.notEqual(find(after, "Gateway", gw)!.metadata.generation, gen);
    });
  },
);
