// Retry cases: each attempt group gets a fresh uuid so the backend's failure counter starts at 0.
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { INFRA_NS } from "./env.js";
import { compare, send } from "./http.js";
import type { Ctx } from "./suite.js";

export interface RetryCase {
  name: string;
  path: string;
  sim: Record<string, string>;
  status: number | number[];
}

export function retryCases(ctx: Ctx, gatewayKey: string, cases: RetryCase[], windowMs = 3000): void {
  cases.forEach((c, i) => {
    test(`${i} request to '${c.path}' ${c.name}`, async () => {
      const deadline = Date.now() + windowMs;
      let last = "";
      for (let attempt = 0; attempt < 20; attempt++) {
        const q = new URLSearchParams({ ...c.sim, uuid: randomUUID() });
        const path = `${c.path}?${q}`;
        try {
          const res = await send(ctx.env.port(gatewayKey), { request: { path }, status: c.status, backend: "infra-backend-v3", namespace: INFRA_NS });
          const diff = compare({ request: { path }, status: c.status, backend: "infra-backend-v3", namespace: INFRA_NS }, res);
          if (diff === null) return;
          last = diff;
        } catch (err) {
          last = `request failed: ${(err as Error).message}`;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(last);
    });
  });
}
