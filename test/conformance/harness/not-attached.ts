// The three checks upstream makes on a route whose parentRef matches no listener.
import { test } from "node:test";
import { eventually, gatewayZeroRoutes, routeCondition, routeNoAcceptedParents, type Cond, type NN } from "./status.js";
import type { Ctx } from "./suite.js";

export function notAttachedCases(ctx: Ctx, route: NN, gw: NN, cond: Cond): void {
  test(`HTTPRoute has ${cond.type}=${cond.status}/${cond.reason} for Gateway ${gw.name}`, async () => {
    await eventually(ctx.env, (items) => routeCondition(items, route, gw, cond));
  });
  test("Route should not have accepted parents", async () => {
    await eventually(ctx.env, (items) => routeNoAcceptedParents(items, route));
  });
  test("Gateway should have 0 routes attached", async () => {
    await eventually(ctx.env, (items) => gatewayZeroRoutes(items, gw));
  });
}
