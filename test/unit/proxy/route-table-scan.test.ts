// Small route tables are scanned in order, larger ones narrowed by first path segment: both must
// pick what an in-order scan of every route picks, for any table size.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrMatch } from "../../../src/ir/types.js";
import { compileMatch, requestMatches } from "../../../src/proxy/router-match.js";
import { RouteTable, SCAN_LIMIT } from "../../../src/proxy/router.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const SEGS = ["a", "b", "c", "api", ""];

test("tables of every size around the scan limit route like a plain in-order scan", () => {
  const rand = rng(11);
  for (let size = 0; size <= SCAN_LIMIT * 3; size++) {
    for (let rep = 0; rep < 20; rep++) {
      const routes = Array.from({ length: size }, (_, id) => {
        const seg = SEGS[Math.floor(rand() * SEGS.length)]!;
        const kind = rand();
        const path: IrMatch["path"] =
          kind < 0.5 ? { type: "PathPrefix", value: `/${seg}` } : kind < 0.8 ? { type: "Exact", value: `/${seg}/x` } : { type: "RegularExpression", value: `/${seg}.*` };
        const match: IrMatch = { path, headers: rand() < 0.2 ? [{ type: "Exact", name: "x-h", value: "1" }] : [], queryParams: [], ...(rand() < 0.2 ? { method: "POST" } : {}) };
        return { id, match: compileMatch(match) };
      });
      const t = new RouteTable(routes);
      for (const seg of SEGS) {
        for (const p of [`/${seg}`, `/${seg}/x`, `/${seg}/y/z`]) {
          for (const [method, headers] of [["GET", {}], ["POST", { "x-h": "1" }]] as const) {
            const want = routes.find((r) => requestMatches(r.match, method, p, "", headers))?.id ?? null;
            assert.equal(t.match(method, p, "", headers)?.id ?? null, want, `size ${size}: ${method} ${p}`);
          }
        }
      }
    }
  }
});
