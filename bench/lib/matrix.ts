// L7 comparison: the same wrk runs against each variant, repetitions interleaved across variants.
import { progress } from "./progress.js";
import { bodyPath } from "./servers.js";
import { median } from "./stats.js";
import { wrk, type WrkResult } from "./wrk.js";

export type Size = "20B" | "64KiB";

export interface Variant {
  id: string;
  label: string;
  port: number;
  /** Where its process runs, for the report. */
  cpus: string;
}

export interface MatrixPlan {
  variants: Variant[];
  sizes: Size[];
  connections: number[];
  reps: number;
  seconds: number;
  warmupSeconds: number;
  loadCpus: string;
}

export interface Cell {
  variant: Variant;
  size: Size;
  connections: number;
  runs: WrkResult[];
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

export function cellKey(v: string, size: Size, c: number): string {
  return `${v}|${size}|${c}`;
}

export async function runMatrix(plan: MatrixPlan): Promise<Map<string, Cell>> {
  const cells = new Map<string, Cell>();
  for (const v of plan.variants)
    for (const size of plan.sizes)
      for (const c of plan.connections) cells.set(cellKey(v.id, size, c), { variant: v, size, connections: c, runs: [], rps: NaN, p50ms: NaN, p99ms: NaN, errors: 0 });

  // Warm-up (JIT, connection pools), not recorded.
  for (const v of plan.variants) {
    progress(`warm-up ${v.label}`);
    await wrk({ url: `http://127.0.0.1:${v.port}${bodyPath(plan.sizes[0]!)}`, connections: Math.max(...plan.connections), seconds: plan.warmupSeconds, cpus: plan.loadCpus });
  }

  const total = plan.reps * plan.sizes.length * plan.connections.length * plan.variants.length;
  let done = 0;
  const t0 = Date.now();
  for (let rep = 0; rep < plan.reps; rep++)
    for (const size of plan.sizes)
      for (const c of plan.connections)
        for (let i = 0; i < plan.variants.length; i++) {
          // Rotate the order each repetition so no variant always runs first or last.
          const v = plan.variants[(i + rep) % plan.variants.length]!;
          const left = Math.round(((Date.now() - t0) / Math.max(done, 1)) * (total - done) / 1000);
          progress(`[${done + 1}/${total}] rep ${rep + 1}/${plan.reps}  ${v.label}  ${size}  -c${c}  ${plan.seconds}s${done > 0 ? `  (~${left}s left)` : ""}`);
          const r = await wrk({ url: `http://127.0.0.1:${v.port}${bodyPath(size)}`, connections: c, seconds: plan.seconds, cpus: plan.loadCpus });
          cells.get(cellKey(v.id, size, c))!.runs.push(r);
          done++;
        }
  for (const cell of cells.values()) {
    cell.rps = median(cell.runs.map((r) => r.rps));
    cell.p50ms = median(cell.runs.map((r) => r.p50ms));
    cell.p99ms = median(cell.runs.map((r) => r.p99ms));
    cell.errors = cell.runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0);
  }
  return cells;
}
