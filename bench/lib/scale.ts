// Route scale: sluice with many HTTPRoutes — data-plane memory per route, change propagation,
// throughput at each size, and errors seen by a steady load while routes change.
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { progress } from "./progress.js";
import { forEachProcess, stop, tempDir, removeTempDir } from "./procs.js";
import { gatewayYaml, get, readyState, routeYaml, startSluice, waitHttp, waitVersion, type ReadyState, type Sluice } from "./servers.js";
import { median, max } from "./stats.js";
import { sleep } from "./system.js";
import { wrk, type WrkResult } from "./wrk.js";

export interface ScalePlan {
  sizes: number[];
  workers: number;
  cpus: string;
  loadCpus: string;
  originPort: number;
  ports: () => Promise<[number, number]>;
  /** Idle route additions timed per size. */
  changes: number;
  seconds: number;
  reps: number;
  churnSeconds: number;
  /** How long idle worker memory is sampled (settledRss). */
  settleMs: number;
}

export interface ScaleRow {
  routes: number;
  loadMs: number;
  /** Idle worker VmRSS after start: the lowest over 30 s, no traffic yet (settledRss); per-route memory uses this. */
  workerRss: number[];
  /** Worker VmRSS after the idle changes and the throughput runs. */
  workerRssLoaded: number[];
  controlRss: number;
  /** Time to all workers serving the new version, idle, ms: by the gateway's clock (/ready servedAt; NaN without it). */
  servedMs: number[];
  /** The same as the harness saw it: until its GET /ready?after=N&wait answer was read. */
  readyMs: number[];
  /** Time to the first of K consecutive 200s on new connections, ms. */
  wireMs: number[];
  load: WrkResult[];
  churn: { result: WrkResult; changes: number; servedMs: number[]; readyMs: number[] } | null;
}

const host = (i: number): string => `r${i}.bench.test`;
const prefix = (i: number): string => `/r${i}`;
const STREAK = 20;
/** Idle worker memory is sampled this long by default (settledRss). */
export const SETTLE_MS = 30_000;
/** Shortest idle memory sample of gateways started ahead of their turn (--quick). */
export const QUICK_IDLE_MS = 1_000;

function writeAtomic(path: string, content: string): void {
  // Write then rename, as editors do, so the watcher never sees half a file.
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

/** VmRSS of a process in bytes (NaN when it is gone). */
export function rss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Idle worker VmRSS without the garbage of loading the snapshot: each worker's lowest sample over
 * SETTLE_MS, one a second. A worker collects that garbage 6-7 s after applying a whole snapshot
 * (src/proxy/heap-tidy.ts), and V8's memory reducer may give back more later (the young generation
 * the parse grew: up to ~25 MiB at 5,000 routes), at a time that varies from run to run. VmRSS
 * never falls below what a worker keeps, so the lowest sample can still count garbage but never
 * less than the retained memory. Sampled 1 s after start instead (until session 3), the figure
 * mostly measured that garbage.
 */
export async function settledRss(pids: number[], settleMs = SETTLE_MS): Promise<number[]> {
  const low = pids.map(() => Infinity);
  for (let t = 0; t < settleMs; t += 1_000) {
    await sleep(1_000);
    pids.forEach((p, j) => (low[j] = Math.min(low[j]!, rss(p))));
  }
  return low;
}

/** Direct children of pid, from /proc/<pid>/task/<tid>/children (every thread may have forked). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const txt = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (txt) out.push(...txt.split(/\s+/).map(Number));
    }
  } catch {
    /* no children file: fall back to scanning */
  }
  if (out.length > 0) return out;
  forEachProcess((d, f) => {
    if (Number(f[1]) === pid) out.push(Number(d));
  });
  return out;
}

/** The worker processes: children of the sluice process that /ready also lists, when it lists pids. */
async function workerPids(s: Sluice): Promise<number[]> {
  const kids = childPids(s.proc.pid);
  const st = await readyState(s.adminPort);
  const listed = new Set((st?.workers ?? []).map((w) => w.pid).filter((p): p is number => typeof p === "number"));
  return listed.size > 0 ? kids.filter((p) => listed.has(p)) : kids;
}

/**
 * Until every worker serves a version after `after`: one GET /ready?after=N&wait=MS, which the
 * gateway answers the moment the last worker reports it. Polling /ready every 5 ms (waitVersion)
 * added the time to the next poll: traced at 5,000 routes, a median 3.5 ms and up to 10.6 ms
 * after the last worker's report, and the polls took CPU from the change on 2 cores. A build
 * without the wait answers at once; polling takes over then.
 */
export async function waitServed(s: Sluice, after: number, timeoutMs: number): Promise<ReadyState> {
  const deadline = Date.now() + timeoutMs;
  try {
    const r = await fetch(`http://127.0.0.1:${s.adminPort}/ready?after=${after}&wait=${Math.min(60_000, timeoutMs)}`);
    const st = (await r.json()) as ReadyState;
    if (st.ready && st.version > after && (st.workers ?? []).every((w) => w.version > after)) return st;
  } catch {
    /* not answering: polled below, which reports it */
  }
  return waitVersion(s, after, Math.max(1, deadline - Date.now()));
}

/** When a change starts, by both clocks: taken once, just before the file is written. */
export interface ChangeStart {
  /** performance.now(), for the harness's own view. */
  t0: number;
  /** Date.now(), to compare with the gateway's /ready servedAt. */
  epoch: number;
}

export function changeStart(): ChangeStart {
  return { t0: performance.now(), epoch: Date.now() };
}

/**
 * A change timed from `start`: `served` by the gateway's report of when the last worker's apply came
 * in (/ready servedAt, ms precision), which leaves out how long this process took to be scheduled,
 * read the answer and parse it (traced under load: up to ~11 ms); `seen` when this process had the
 * answer.
 */
export async function timeChange(s: Sluice, after: number, start: ChangeStart): Promise<{ served: number; seen: number }> {
  const st = await waitServed(s, after, 30_000);
  const seen = performance.now() - start.t0;
  return { served: st.servedAt === undefined ? NaN : Date.parse(st.servedAt) - start.epoch, seen };
}

/** ms from t0 to the first of STREAK consecutive 200s, each on a new connection (NaN on timeout). */
async function wireTime(port: number, hostname: string, path: string, t0: number, timeoutMs: number): Promise<number> {
  let streak = 0;
  let streakStart = 0;
  while (performance.now() - t0 < timeoutMs) {
    const sent = performance.now();
    const status = await get(port, path, { host: hostname });
    if (status === 200) {
      if (streak === 0) streakStart = sent;
      if (++streak >= STREAK) return streakStart - t0;
    } else streak = 0;
  }
  return NaN;
}

/**
 * Change number k of the load test's cycle: a route added, the loaded route r0 changed (a rule
 * added), the added route removed, r0 changed back. r0 keeps answering throughout.
 */
export function churnStep(dir: string, k: number, originPort: number): void {
  const hot = join(dir, "hot.yaml");
  switch (k % 4) {
    case 0: writeAtomic(join(dir, "churn.yaml"), routeYaml("churn", originPort, "churn.bench.test", "/churn")); break;
    case 1: writeAtomic(hot, routesFile(0, 1, originPort).replace("  rules:\n", `  rules:\n    - matches:\n        - path: { type: PathPrefix, value: /r0-alt }\n      backendRefs:\n        - { group: sluice.dev, kind: Backend, name: origin, port: ${originPort} }\n`)); break;
    case 2: rmSync(join(dir, "churn.yaml"), { force: true }); break;
    default: writeAtomic(hot, routesFile(0, 1, originPort));
  }
}

function routesFile(from: number, to: number, origin: number): string {
  const docs: string[] = [];
  for (let i = from; i < to; i++) docs.push(routeYaml(`r${i}`, origin, host(i), prefix(i)));
  return docs.join("---\n");
}

/** A sluice with n routes, started and answering on its last route, not yet measured. */
export interface ScaleGateway {
  routes: number;
  sluice: Sluice;
  dir: string;
  port: number;
  adminPort: number;
  /** Start to every worker ready, ms. */
  loadMs: number;
  /** performance.now() when the last route first answered. */
  readyAt: number;
}

/** Generates n routes into a temp folder and starts a sluice on it (stopScaleGateway ends both). */
export async function startScaleGateway(plan: ScalePlan, n: number, label: (s: string) => void): Promise<ScaleGateway> {
  const [port, adminPort] = await plan.ports();
  const dir = tempDir(`scale-${n}`);
  writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(port, plan.originPort));
  // r0 (the route under steady load) has its own file so it can be rewritten while loaded.
  writeFileSync(join(dir, "hot.yaml"), routesFile(0, 1, plan.originPort));
  if (n > 1) writeFileSync(join(dir, "routes.yaml"), routesFile(1, n, plan.originPort));
  label(`starting sluice with ${n} routes`);
  const t0 = performance.now();
  const s = await startSluice({ name: `sluice-scale-${n}`, port, adminPort, configDir: dir, workers: plan.workers, cpus: plan.cpus, readyTimeoutMs: 300_000 });
  const loadMs = performance.now() - t0;
  const g: ScaleGateway = { routes: n, sluice: s, dir, port, adminPort, loadMs, readyAt: NaN };
  try {
    await waitHttp(port, `${prefix(n - 1)}/20b`, s.proc, 10_000, { host: host(n - 1) });
    g.readyAt = performance.now();
  } catch (e) {
    await stopScaleGateway(g);
    throw e;
  }
  return g;
}

export async function stopScaleGateway(g: ScaleGateway): Promise<void> {
  await stop(g.sluice.proc);
  removeTempDir(g.dir);
}

/** Idle worker memory (settledRss) and the control process's, before any load. */
async function idleMemory(g: ScaleGateway, settleMs: number): Promise<{ pids: number[]; workerRss: number[]; controlRss: number }> {
  const pids = await workerPids(g.sluice);
  const workerRss = await settledRss(pids, settleMs);
  return { pids, workerRss, controlRss: rss(g.sluice.proc.pid) };
}

async function measure(plan: ScalePlan, g: ScaleGateway, idle: { pids: number[]; workerRss: number[]; controlRss: number }, label: (s: string) => void): Promise<ScaleRow> {
  const { routes: n, sluice: s, dir, port, adminPort } = g;
  const last = n - 1;
  const row: ScaleRow = { routes: n, loadMs: g.loadMs, workerRss: idle.workerRss, workerRssLoaded: [], controlRss: idle.controlRss, servedMs: [], readyMs: [], wireMs: [], load: [], churn: null };
  const pids = idle.pids;
  const sample = async (): Promise<number[]> => {
    // Median of 5 samples per worker, 100 ms apart.
    const per: number[][] = pids.map(() => []);
    for (let i = 0; i < 5; i++) {
      pids.forEach((p, j) => per[j]!.push(rss(p)));
      await sleep(100);
    }
    return per.map(median);
  };

  // Idle propagation: add one route, time until every worker has it (/ready) — then, in separate
  // changes, until it answers on the wire. Separate because the wire probe (new connections back
  // to back) loads the workers and the cores while they compile: timed together, the /ready
  // figure would not be an idle gateway's.
  for (let k = 0; k < 2 * plan.changes; k++) {
    const wireRound = k >= plan.changes;
    label(`${n} routes: change ${k + 1}/${2 * plan.changes} (${wireRound ? "answering on the wire" : "every worker ready"})`);
    const v0 = (await readyState(adminPort))?.version ?? 0;
    const name = `add${k}`;
    const start = changeStart();
    writeAtomic(join(dir, `${name}.yaml`), routeYaml(name, plan.originPort, `${name}.bench.test`, `/${name}`));
    if (wireRound) {
      row.wireMs.push(await wireTime(port, `${name}.bench.test`, `/${name}/20b`, start.t0, 30_000));
      await waitVersion(s, v0, 30_000);
    } else {
      const c = await timeChange(s, v0, start);
      row.servedMs.push(c.served);
      row.readyMs.push(c.seen);
    }
  }

  for (let r = 0; r < plan.reps; r++) {
    label(`${n} routes: wrk -c64 ${plan.seconds}s on route r${last} (${r + 1}/${plan.reps})`);
    row.load.push(await wrk({ url: `http://127.0.0.1:${port}${prefix(last)}/20b`, connections: 64, seconds: plan.seconds, cpus: plan.loadCpus, headers: { Host: host(last) } }));
  }

  row.workerRssLoaded = await sample();

  if (plan.churnSeconds > 0) {
    label(`${n} routes: steady load on r0 while routes change (${plan.churnSeconds}s)`);
    const load = wrk({ url: `http://127.0.0.1:${port}${prefix(0)}/20b`, connections: 64, seconds: plan.churnSeconds, cpus: plan.loadCpus, headers: { Host: host(0) } });
    const end = performance.now() + plan.churnSeconds * 1000 - 700;
    await sleep(300);
    const servedMs: number[] = [];
    const readyMs: number[] = [];
    let changes = 0;
    while (performance.now() < end) {
      const v0 = (await readyState(adminPort))?.version ?? 0;
      const start = changeStart();
      churnStep(dir, changes, plan.originPort);
      const c = await timeChange(s, v0, start);
      servedMs.push(c.served);
      readyMs.push(c.seen);
      changes++;
      await sleep(100);
    }
    row.churn = { result: await load, changes, servedMs, readyMs };
  }
  return row;
}

/**
 * Each size in turn: a fresh sluice, its idle memory, then the measurements, then it is stopped.
 * `started` (--quick): gateways for every size started earlier, all at once; their idle memory is
 * sampled together, until settleMs after each one's last route answered but for at least
 * QUICK_IDLE_MS (the time before, spent on other parts, already let the workers collect the
 * garbage of loading), then each is measured and stopped in turn.
 */
export async function runScale(plan: ScalePlan, started?: ScaleGateway[]): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  const label = (t: string): void => progress(`[scale ${rows.length + 1}/${plan.sizes.length}] ${t}`);
  if (started !== undefined) {
    try {
      const windows = started.map((g) => Math.max(QUICK_IDLE_MS, g.readyAt + plan.settleMs - performance.now()));
      progress(`[scale] idle memory of ${started.map((g) => g.routes).join(", ")} routes at once (${(Math.max(...windows) / 1000).toFixed(0)} s)`);
      const idle = await Promise.all(started.map((g, i) => idleMemory(g, windows[i]!)));
      for (let i = 0; i < started.length; i++) {
        rows.push(await measure(plan, started[i]!, idle[i]!, label));
        await stopScaleGateway(started[i]!);
      }
    } finally {
      for (const g of started.slice(rows.length)) await stopScaleGateway(g);
    }
    return rows;
  }
  for (const n of plan.sizes) {
    const g = await startScaleGateway(plan, n, label);
    try {
      label(`${n} routes: idle memory (${plan.settleMs / 1000} s)`);
      rows.push(await measure(plan, g, await idleMemory(g, plan.settleMs), label));
    } finally {
      await stopScaleGateway(g);
    }
  }
  return rows;
}

export function summary(r: ScaleRow): { served: number; servedMax: number; ready: number; readyMax: number; wire: number; wireMax: number } {
  return { served: median(r.servedMs), servedMax: max(r.servedMs), ready: median(r.readyMs), readyMax: max(r.readyMs), wire: median(r.wireMs), wireMax: max(r.wireMs) };
}
