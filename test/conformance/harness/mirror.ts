// Mirror cases: the request carries a unique query parameter, the main response is checked like
// any other, and the mirror pods' recorded requests must show that parameter.
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { caseName, expectResponse, send, compare, type Expectation } from "./http.js";
import type { Ctx } from "./suite.js";

function withId(e: Expectation, id: string): Expectation {
  const add = (p: string): string => `${p}${p.includes("?") ? "&" : "?"}mirror-id=${id}`;
  return {
    ...e,
    request: { ...e.request, path: add(e.request.path) },
    ...(e.expectedRequest ? { expectedRequest: { ...e.expectedRequest, path: add(e.expectedRequest.path ?? e.request.path) } } : {}),
  };
}

/** Count of requests whose path carries `id`, across pods named with `podPrefix`. */
export function mirroredCount(ctx: Ctx, podPrefix: string, id: string): number {
  return ctx.env.requests(podPrefix).filter((r) => r.path.includes(`mirror-id=${id}`)).length;
}

export function mirrorCases(ctx: Ctx, gatewayKey: string, cases: { exp: Expectation; mirrors: string[] }[]): void {
  cases.forEach(({ exp, mirrors }, i) => {
    test(`${caseName(exp, i)} and be mirrored to ${mirrors.join(", ")}`, async () => {
      const id = randomUUID();
      await expectResponse(ctx.env.port(gatewayKey), withId(exp, id), { consecutive: 1 });
      // Mirrors are fire-and-forget: they may land after the main response.
      const deadline = Date.now() + 3000;
      let missing = mirrors;
      while (Date.now() < deadline) {
        missing = mirrors.filter((m) => mirroredCount(ctx, m, id) === 0);
        if (missing.length === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (missing.length) throw new Error(`no mirrored request with mirror-id=${id} reached ${missing.join(", ")}`);
      // The main backend must not be one of the mirrors' recipients and vice versa: exactly one copy each.
      for (const m of mirrors) {
        const n = mirroredCount(ctx, m, id);
        if (n !== 1) throw new Error(`${m} received ${n} copies of the mirrored request, expected 1`);
      }
    });
  });
}

/**
 * Sends `total` requests (10 at a time) and checks the share mirrored to `mirror` is within three
 * standard deviations of `percent`. Up to `rounds` tries, as upstream allows for bad luck.
 */
export function percentageMirrorCase(ctx: Ctx, gatewayKey: string, exp: Expectation, mirror: string, percent: number, total = 500, rounds = 2): void {
  test(`${caseName(exp, 0).replace(/^0 /, "")} and mirror ${percent}% to ${mirror}`, async () => {
    const port = ctx.env.port(gatewayKey);
    await expectResponse(port, withId(exp, randomUUID()));
    let last = "";
    for (let round = 0; round < rounds; round++) {
      const id = randomUUID();
      const e = withId(exp, id);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < total) {
          next++;
          const res = await send(port, e);
          const diff = compare(e, res);
          if (diff) throw new Error(diff);
        }
      };
      await Promise.all(Array.from({ length: 10 }, worker));
      await new Promise((r) => setTimeout(r, 300)); // let in-flight mirrors land
      const got = mirroredCount(ctx, mirror, id);
      const p = percent / 100;
      const margin = 3 * Math.sqrt(total * p * (1 - p));
      if (got >= total * p - margin && got <= total * p + margin) return;
      last = `${got}/${total} mirrored to ${mirror}, expected ${total * p} ± ${margin.toFixed(1)}`;
    }
    throw new Error(last);
  });
}
