import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { eventually, find, latestGeneration, routeCondition } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const route = { namespace: ns, name: "observed-generation-bump" };
const gw = { namespace: ns, name: "same-namespace" };
const manifest = (backend: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: observed-generation-bump, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: ${backend}, port: 8080}]
`;

conformance(
  {
    name: "HTTPRouteObservedGenerationBump",
    features: ["core"],
    manifests: { "case.yaml": manifest("infra-backend-v1") },
  },
  (ctx) => {
    test("observedGeneration should increment", async () => {
      const conds = (items: Parameters<typeof find>[0]) => {
        const r = find(items, "HTTPRoute", route);
        if (!r) return "route not in /status";
        if (r.metadata.generation === undefined) return "route has no metadata.generation";
        const parents = r.status?.parents ?? [];
        if (!parents.length) return "route has no parent status";
        for (const p of parents) {
          const d = latestGeneration(r, p.conditions);
          if (d) return d;
        }
        return null;
      };
      const before = await eventually(ctx.env, conds);
      const gen1 = find(before, "HTTPRoute", route)!.metadata.generation!;
      await ctx.env.apply({ "case.yaml": manifest("infra-backend-v2") });
      const after = await eventually(
        ctx.env,
        (items) =>
          (find(items, "HTTPRoute", route)?.metadata.generation === gen1 ? "generation not bumped yet" : null) ??
          conds(items) ??
          routeCondition(items, route, gw, { type: "Accepted", status: "True" }) ??
          routeCondition(items, route, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" }),
      );
      assert.notEqual(find(after, "HTTPRoute", route)!.metadata.generation, gen1, "generation should change after an update");
    });
  },
);
