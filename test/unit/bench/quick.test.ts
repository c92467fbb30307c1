// The bench's build skip (staleReason) and the smoke run's failure checks (smokeProblems).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { staleReason } from "../../../bench/lib/build.js";
import type { Cell, MatrixPlan } from "../../../bench/lib/matrix.js";
import type { ScalePlan, ScaleRow } from "../../../bench/lib/scale.js";
import { smokeProblems } from "../../../bench/lib/smoke.js";
import type { WorkersPlan, WorkersRun } from "../../../bench/lib/workers.js";
import type { WrkResult } from "../../../bench/lib/wrk.js";

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), "sluice-bench-build-test-"));
  mkdirSync(join(root, "src/a"), { recursive: true });
  mkdirSync(join(root, "dist/a"), { recursive: true });
  for (const f of ["tsconfig.json", "src/main.ts", "src/a/b.ts", "src/a/types.d.ts", "dist/main.js", "dist/a/b.js"]) writeFileSync(join(root, f), "");
  const old = new Date(Date.now() - 60_000);
  for (const f of ["tsconfig.json", "src/main.ts", "src/a/b.ts", "src/a/types.d.ts"]) utimesSync(join(root, f), old, old);
  return root;
}

test("staleReason: null when every output is newer than its source, else names the first stale source", () => {
  const root = tree();
  try {
    assert.equal(staleReason(root), null);
    // A source edited after its output.
    const now = new Date(Date.now() + 5_000);
    utimesSync(join(root, "src/a/b.ts"), now, now);
    assert.match(staleReason(root) ?? "", /src\/a\/b\.ts changed/);
    utimesSync(join(root, "dist/a/b.js"), new Date(Date.now() + 10_000), new Date(Date.now() + 10_000));
    assert.equal(staleReason(root), null);
    // A new source without output.
    writeFileSync(join(root, "src/new.ts"), "");
    assert.match(staleReason(root) ?? "", /src\/new\.ts changed/);
    rmSync(join(root, "src/new.ts"));
    // The compiler options changed after the last build.
    utimesSync(join(root, "tsconfig.json"), new Date(Date.now() + 20_000), new Date(Date.now() + 20_000));
    assert.match(staleReason(root) ?? "", /tsconfig\.json/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const wrkRun = (requests: number, non2xx = 0, socketErrors = 0): WrkResult => ({ rps: requests, p50ms: 1, p99ms: 2, requests, non2xx, socketErrors, raw: "" });

function cell(label: string, runs: WrkResult[]): Cell {
  return {
    variant: { id: label, label, port: 1, cpus: "1" },
    size: "20B",
    connections: 64,
    runs,
    cpuUs: [],
    waitPct: [],
    tcpTimeouts: [],
    loopMaxMs: [],
    rps: 0,
    cpuUsPerReq: NaN,
    p50ms: 1,
    p99ms: 2,
    errors: runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0),
  };
}

test("smokeProblems: a healthy run has none; no requests, errors, a route that never answered and errors under changes each show", () => {
  const plan = {} as MatrixPlan;
  const row = (over: Partial<ScaleRow>): ScaleRow => ({
    routes: 10, loadMs: 1, workerRss: [1], workerRssLoaded: [1], controlRss: 1, servedMs: [18], readyMs: [20], wireMs: [15], load: [wrkRun(100)],
    churn: { result: wrkRun(100), changes: 4, servedMs: [28], readyMs: [30] }, ...over,
  });
  const workersRun = (requests: number, errors = 0): WorkersRun => ({ rps: requests, p99ms: 2, requests, errors, cpuSeconds: 1 });
  const workers = (one: WorkersRun, n: WorkersRun) => ({
    plan: {} as WorkersPlan,
    variants: [{ workers: 1, cpus: "1", runs: [one] }, { workers: 2, cpus: "0-1", runs: [n] }],
  });
  const healthy = {
    matrix: { plan, cells: new Map([["a", cell("nginx", [wrkRun(1000)])]]) },
    workers: workers(workersRun(500), workersRun(900)),
    scale: { plan: {} as ScalePlan, rows: [row({})] },
    l4: null,
  };
  assert.deepEqual(smokeProblems(healthy), []);

  const broken = smokeProblems({
    matrix: { plan, cells: new Map([["a", cell("sluice 1 worker", [wrkRun(0)])], ["b", cell("haproxy", [wrkRun(900, 3, 1)])]]) },
    workers: workers(workersRun(0), workersRun(900, 7)),
    scale: { plan: {} as ScalePlan, rows: [row({ routes: 1000, wireMs: [NaN], churn: { result: wrkRun(100, 2, 0), changes: 0, servedMs: [], readyMs: [] } })] },
    l4: null,
  });
  assert.equal(broken.length, 7, broken.join("\n"));
  assert.match(broken[0]!, /sluice 1 worker .*completed no request/);
  assert.match(broken[1]!, /haproxy .*4 error/);
  assert.match(broken[2]!, /workers part, sluice 1 worker\(s\): a run completed no request/);
  assert.match(broken[3]!, /workers part, sluice 2 worker\(s\): 7 error/);
  assert.match(broken[4]!, /1000 routes: an added route .*never answered/);
  assert.match(broken[5]!, /no route change was applied/);
  assert.match(broken[6]!, /2 non-2xx\/3xx .*while routes changed/);
});
