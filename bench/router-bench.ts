// Router micro-benchmark (not a test): cost of one route match for 10 / 1,000 / 10,000 routes.
// Run: node --import tsx bench/router-bench.ts
import { compileMatch } from "../src/proxy/router-match.js";
import { RouteTable } from "../src/proxy/router.js";
import type { IrMatch } from "../src/ir/types.js";

function routes(n: number): { match: ReturnType<typeof compileMatch>; i: number }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    const m: IrMatch =
      kind === 0
        ? { path: { type: "Exact", value: `/svc${i}/items` }, headers: [], queryParams: [] }
        : kind === 1
          ? { path: { type: "PathPrefix", value: `/svc${i}` }, headers: [], queryParams: [] }
          : kind === 2
            ? { path: { type: "PathPrefix", value: `/svc${i}/v2` }, method: "POST", headers: [], queryParams: [] }
            : { path: { type: "PathPrefix", value: `/svc${i}` }, headers: [{ type: "Exact", name: "x-tenant", value: "t1" }], queryParams: [] };
    out.push({ match: compileMatch(m), i });
  }
  // A few regex routes and a catch-all, as real configs have.
  out.push({ match: compileMatch({ path: { type: "RegularExpression", value: "/re/[a-z]+/\\d+" }, headers: [], queryParams: [] }), i: n });
  out.push({ match: compileMatch({ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] }), i: n + 1 });
  return out;
}

for (const n of [10, 1_000, 10_000]) {
  const t = new RouteTable(routes(n));
  const paths = [`/svc${n - 3}/items/1`, `/svc${Math.floor(n / 2) + 1}/x`, "/re/abc/12", "/nothing/here"];
  const headers = { "x-tenant": "t1", host: "example.com" };
  let hits = 0;
  for (let i = 0; i < 20_000; i++) if (t.match("GET", paths[i & 3]!, "", headers)) hits++;
  const iters = 400_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) if (t.match("GET", paths[i & 3]!, "", headers)) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  console.log(`${String(n).padStart(6)} routes: ${ns.toFixed(0).padStart(5)} ns/match (${hits} hits)`);
}
