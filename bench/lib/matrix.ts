// L7 comparison: the same wrk runs against each variant, repetitions interleaved across variants.
import { groupCpuSeconds, groupRunqueueWait } from "./procs.js";
import { progress } from "./progress.js";
import { bodyPath } from "./servers.js";
import { median } from "./stats.js";
import { tcpTimeouts } from "./system.js";
import { wrk, type WrkResult } from "./wrk.js";

export type Size = "20B" | "64KiB";

export interface Variant {
  id: string;
  label: string;
  port: number;
  /** Where its process runs, for the report. */
  cpus: string;
  /** Process group of the proxy (its pid): its CPU time per request is measured. */
  pgid?: number;
  /** A sluice's admin port: its workers' event-loop stalls are read from /metrics around each run. */
  adminPort?: number;
}

export interface MatrixPlan {
  variants: Variant[];
  sizes: Size[];
  connections: number[];
  reps: number;
  seconds: number;
  warmupSeconds: number;
  /**
   * Warm every variant up at the same time (one wrk each, all on the load CPUs) instead of one
   * after the other: one warm-up period instead of one per variant, for --quick. 0 s: no warm-up.
   */
  warmupTogether?: boolean;
  loadCpus: string;
}

export interface Cell {
  variant: Variant;
  size: Size;
  connections: number;
  runs: WrkResult[];
  /** Proxy CPU (utime + stime of its process group) per request, us, per run. */
  cpuUs: number[];
  /**
   * Per run: how long the proxy's threads were runnable but waiting for a CPU, % of the run (another
   * process, or its own background threads, had the core), and the machine's TCP retransmission
   * timeouts during the run. Both tell a tail run's cause from a slow proxy.
   */
  waitPct: number[];
  tcpTimeouts: number[];
  /** Per run: the longest event-loop stall of the sluice's workers beyond the sampling period (ms; NaN for other proxies). */
  loopMaxMs: number[];
  rps: number;
  /** Median of cpuUs (NaN when the variant has no process group). */
  cpuUsPerReq: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

export function cellKey(v: string, size: Size, c: number): string {
  return `${v}|${size}|${c}`;
}

/** prom-client's default eventLoopMonitoringPrecision: node's delay histogram records whole timer intervals of this period. */
const LOOP_SAMPLE_MS = 10;

/**
 * The longest event-loop delay (ms) of a sluice's workers since the last read of its /metrics
 * (nodejs_eventloop_lag_max_seconds, the max over workers, less the sampling period it includes;
 * each read resets it). A stall of the worker (a GC pause, a long task) shows here; a tail without
 * one happened outside the worker.
 */
async function loopMaxMs(adminPort: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const max = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
    return Math.max(0, max - LOOP_SAMPLE_MS);
  } catch {
    return NaN;
  }
}

export async function runMatrix(plan: MatrixPlan): Promise<Map<string, Cell>> {
  const cells = new Map<string, Cell>();
  for (const v of plan.variants)
    for (const size of plan.sizes)
      for (const c of plan.connections) cells.set(cellKey(v.id, size, c), { variant: v, size, connections: c, runs: [], cpuUs: [], waitPct: [], tcpTimeouts: [], loopMaxMs: [], rps: NaN, cpuUsPerReq: NaN, p50ms: NaN, p99ms: NaN, errors: 0 });

  // Warm-up (JIT, connection pools), not recorded.
  const warm = (v: Variant): Promise<WrkResult> =>
    wrk({ url: `http://127.0.0.1:${v.port}${bodyPath(plan.sizes[0]!)}`, connections: Math.max(...plan.connections), seconds: plan.warmupSeconds, cpus: plan.loadCpus });
  if (plan.warmupSeconds > 0 && plan.warmupTogether) {
    progress(`warm-up of all ${plan.variants.length} variants at once, ${plan.warmupSeconds}s`);
    await Promise.all(plan.variants.map(warm));
  } else if (plan.warmupSeconds > 0)
    for (const v of plan.variants) {
      progress(`warm-up ${v.label}`);
      await warm(v);
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
          const cpu0 = v.pgid !== undefined ? groupCpuSeconds(v.pgid) : NaN;
          const wait0 = v.pgid !== undefined ? groupRunqueueWait(v.pgid) : NaN;
          const rto0 = tcpTimeouts();
          if (v.adminPort !== undefined) await loopMaxMs(v.adminPort); // starts the workers' delay histograms afresh
          const r = await wrk({ url: `http://127.0.0.1:${v.port}${bodyPath(size)}`, connections: c, seconds: plan.seconds, cpus: plan.loadCpus });
          const cell = cells.get(cellKey(v.id, size, c))!;
          cell.runs.push(r);
          // Includes the moments around the run (wrk start/stop) when the proxy is idle: a small overcount of nothing.
          cell.cpuUs.push(v.pgid !== undefined && r.requests > 0 ? ((groupCpuSeconds(v.pgid) - cpu0) / r.requests) * 1e6 : NaN);
          cell.waitPct.push(v.pgid !== undefined ? ((groupRunqueueWait(v.pgid) - wait0) / plan.seconds) * 100 : NaN);
          cell.tcpTimeouts.push(tcpTimeouts() - rto0);
          cell.loopMaxMs.push(v.adminPort !== undefined ? await loopMaxMs(v.adminPort) : NaN);
          done++;
        }
  for (const cell of cells.values()) {
    cell.rps = median(cell.runs.map((r) => r.rps));
    cell.p50ms = median(cell.runs.map((r) => r.p50ms));
    cell.p99ms = median(cell.runs.map((r) => r.p99ms));
    cell.cpuUsPerReq = cell.cpuUs.some(Number.isNaN) ? NaN : median(cell.cpuUs);
    cell.errors = cell.runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0);
  }
  return cells;
}

/**
 * How the N-worker variants scale, on this machine: each proxy's req/s with N workers over its own
 * 1-worker figure, and sluice's CPU per request with N workers over 1 worker (flat = no per-worker
 * overhead, so throughput grows with the cores given to it).
 */
export function scalingLines(cells: Map<string, Cell>, plan: MatrixPlan, n: number): string[] {
  const out: string[] = [];
  for (const size of plan.sizes)
    for (const c of plan.connections) {
      const get = (id: string): Cell | undefined => cells.get(cellKey(id, size, c));
      const s1 = get("sluice-1"), sn = get("sluice-n"), n1 = get("nginx"), nn = get("nginx-n");
      if (!s1 || !sn || !n1 || !nn) continue;
      out.push(
        `${n} workers vs 1, ${size} -c${c}: sluice req/s x${(sn.rps / s1.rps).toFixed(2)}, nginx x${(nn.rps / n1.rps).toFixed(2)}; ` +
          `sluice ${n} workers = ${(sn.rps / nn.rps).toFixed(2)}x nginx ${n} workers (1 worker: ${(s1.rps / n1.rps).toFixed(2)}x); ` +
          `sluice CPU per request ${sn.cpuUsPerReq.toFixed(1)} us with ${n} workers vs ${s1.cpuUsPerReq.toFixed(1)} us with 1 (x${(sn.cpuUsPerReq / s1.cpuUsPerReq).toFixed(2)})`,
      );
    }
  return out;
}
