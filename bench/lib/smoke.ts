// What makes a run broken rather than slow: a variant that served nothing, errors on the wire, a
// new route that never answered. --quick exits with status 1 on any of these (a smoke test must
// fail loudly); a full run lists them. Numbers themselves never fail a run.
import type { Cell, MatrixPlan } from "./matrix.js";
import type { L4Report } from "./report.js";
import type { ScalePlan, ScaleRow } from "./scale.js";
import type { WorkersReport } from "./workers.js";

export interface SmokeInput {
  matrix: { plan: MatrixPlan; cells: Map<string, Cell> } | null;
  workers: WorkersReport | null;
  scale: { plan: ScalePlan; rows: ScaleRow[] } | null;
  l4: L4Report | null;
}

export function smokeProblems(r: SmokeInput): string[] {
  const out: string[] = [];
  for (const c of r.matrix?.cells.values() ?? []) {
    const where = `L7 ${c.variant.label} ${c.size} -c${c.connections}`;
    if (c.runs.length === 0 || c.runs.some((x) => x.requests === 0)) out.push(`${where}: a run completed no request`);
    if (c.errors > 0) out.push(`${where}: ${c.errors} error(s) (non-2xx/3xx or socket errors)`);
  }
  for (const v of r.workers?.variants ?? []) {
    const where = `workers part, sluice ${v.workers} worker(s)`;
    if (v.runs.length === 0 || v.runs.some((x) => x.requests === 0)) out.push(`${where}: a run completed no request`);
    const errs = v.runs.reduce((a, x) => a + x.errors, 0);
    if (errs > 0) out.push(`${where}: ${errs} error(s) (non-2xx/3xx or socket errors)`);
  }
  for (const row of r.scale?.rows ?? []) {
    const where = `route scale, ${row.routes} routes`;
    if (row.readyMs.some((x) => !Number.isFinite(x)) || row.wireMs.some((x) => !Number.isFinite(x))) out.push(`${where}: an added route did not reach every worker or never answered`);
    if (row.load.some((x) => x.requests === 0)) out.push(`${where}: the throughput run completed no request`);
    const errs = row.load.reduce((a, x) => a + x.non2xx + x.socketErrors, 0);
    if (errs > 0) out.push(`${where}: ${errs} error(s) in the throughput run`);
    if (row.churn) {
      const { result, changes } = row.churn;
      if (changes === 0) out.push(`${where}: no route change was applied under load`);
      if (result.requests === 0) out.push(`${where}: the load during route changes completed no request`);
      if (result.non2xx + result.socketErrors > 0) out.push(`${where}: ${result.non2xx} non-2xx/3xx and ${result.socketErrors} socket error(s) while routes changed (must be 0)`);
    }
  }
  for (const c of r.l4?.cells.values() ?? []) {
    const where = `L4 ${c.variant.label} ${c.test.label} -c${c.test.conns}`;
    if (c.runs.length === 0 || c.runs.some((x) => x.ops === 0 && x.bytesPerSec === 0)) out.push(`${where}: nothing came back through it in a run`);
    if (c.errors > 0) out.push(`${where}: ${c.errors} connection(s) failed or closed early`);
  }
  return out;
}
