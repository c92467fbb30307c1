// Where a route change's time goes, phase by phase, in one process: the same steps `sluice run`
// takes for a one-route addition (load with the parse cache, the provider's change key, translate,
// canonical JSON + hash, statuses, IPC encode/decode, worker compile), on N generated routes.
// Usage: node --import tsx bench/change-profile.ts [--routes 5000] [--changes 10] [--mix] [--warm-up] [--warm-up-runs N]
// --mix cycles through the three changes of the scale benchmark's load test: a route file added, the
// file of route r0 rewritten (a rule added or taken away), the added file removed; default: added only.
// --warm-up runs what `sluice run` does once its workers serve the first snapshot (ConfigController.warmUp,
// makeDelta of the snapshot against itself) before the first change; --warm-up-runs N sets its runs
// (default: the gateway's own, WARM_UP_RUNS in src/control/config-controller.ts).
// --cpu-prof FILE writes a V8 CPU profile of the changes only (not the initial load) to FILE.
// Lines marked [cpu] are the process's CPU time (all threads) over the same phase: on a loaded
// machine wall time includes waiting for a core, CPU time mostly does not.
import { renameSync, unlinkSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { ConfigController } from "../src/control/config-controller.js";
import type { Snapshot } from "../src/ir/types.js";
import { AccessLog } from "../src/observe/access-log.js";
import { ControlMetrics } from "../src/observe/control-metrics.js";
import { configureLog } from "../src/observe/log.js";
import { FileProvider } from "../src/providers/file/index.js";
import { compileSnapshot } from "../src/proxy/compile.js";
import { EndpointRegistry } from "../src/proxy/upstream/cluster.js";
import type { LoadResult } from "../src/resources/index.js";
import { CONTROLLER_NAME } from "../src/translator/api.js";
import * as translator from "../src/translator/index.js";
import { removeTempDir, tempDir } from "./lib/procs.js";
import { gatewayYaml, routeYaml } from "./lib/servers.js";
import { median } from "./lib/stats.js";
import type { CompileCache } from "../src/proxy/compile.js";

const { values: opt } = parseArgs({
  options: { routes: { type: "string", default: "5000" }, changes: { type: "string", default: "10" }, "cpu-prof": { type: "string" }, mix: { type: "boolean", default: false }, "warm-up": { type: "boolean", default: false }, "warm-up-runs": { type: "string" } },
});
const N = Number(opt.routes);
const CHANGES = Number(opt.changes);

const dir = tempDir(`change-profile-${N}`);
writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(18080, 18081));
const docs: string[] = [];
// r0 in a file of its own (as the scale benchmark has it), so --mix can rewrite it alone.
writeFileSync(join(dir, "hot.yaml"), routeYaml("r0", 18081, "r0.bench.test", "/r0"));
for (let i = 1; i < N; i++) docs.push(routeYaml(`r${i}`, 18081, `r${i}.bench.test`, `/r${i}`));
writeFileSync(join(dir, "routes.yaml"), docs.join("---\n"));
/** Writes a file the way editors and deploy tools do: a temporary file renamed into place. */
function put(name: string, text: string): void {
  writeFileSync(join(dir, `${name}.tmp`), text);
  renameSync(join(dir, `${name}.tmp`), join(dir, name));
}

const phases = new Map<string, number[]>();
function add(name: string, ms: number): void {
  const l = phases.get(name) ?? [];
  l.push(ms);
  phases.set(name, l);
}
/** Process CPU time (all threads, GC included) in ms: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function time<T>(name: string, f: () => T): T {
  const t = performance.now();
  const c = cpuMs();
  const v = f();
  add(name, performance.now() - t);
  add(`${name} [cpu]`, cpuMs() - c);
  return v;
}

const { translate } = translator;
const log = configureLog("silent");
let published: Snapshot | null = null;
const controller = new ConfigController({
  translate: (objects, m?: unknown) => time("translate", () => translate(objects, { controllerName: CONTROLLER_NAME, ...(m ? { memo: m } : {}) } as Parameters<typeof translate>[1])),
  metrics: new ControlMetrics(),
  log,
  publish: (s) => (published = s),
});
const registry = new EndpointRegistry();
// Older trees (for before/after runs) have no deltas or compile cache: full snapshots then.
const delta_ = await import("../src/proxy/snapshot-delta.js").catch(() => null);
const compileMod = (await import("../src/proxy/compile.js")) as { CompileCache?: new () => CompileCache };
const compileCache = compileMod.CompileCache ? new compileMod.CompileCache() : null;
let prevSnap: Snapshot | null = null;
let workerSnap: Snapshot | null = null;
const accessLog = new AccessLog("off");
const provider = new FileProvider(dir);
let loaded: ((l: LoadResult) => void) | null = null;

/** One load through the controller and one worker's decode + compile, each phase timed. */
function handle(load: LoadResult, record: boolean): void {
  const t = performance.now();
  const c = cpuMs();
  controller.onLoad(load);
  add("controller total (translate, hash, statuses)", performance.now() - t);
  add("controller total (translate, hash, statuses) [cpu]", cpuMs() - c);
  const snap = published as Snapshot | null;
  if (!snap) throw new Error("no snapshot published");
  // What the worker pool sends: a delta from the previous snapshot when that works, else all of it.
  const delta = prevSnap && delta_ ? time("make delta", () => delta_!.makeDelta(prevSnap!, snap)) : null;
  const msg = delta ? { type: "snapshot-delta", delta } : { type: "snapshot", snapshot: snap };
  const wire = time("IPC encode (JSON.stringify)", () => JSON.stringify(msg));
  add("IPC bytes (KiB)", wire.length / 1024);
  const decoded = time("IPC decode (JSON.parse)", () => JSON.parse(wire)) as { snapshot?: Snapshot; delta?: unknown };
  const full = decoded.delta ? time("worker: rebuild from delta", () => delta_!.applyDelta(workerSnap!, decoded.delta as never)) : decoded.snapshot!;
  time("worker compile", () => {
    const c = compileSnapshot(full, registry, accessLog, ...(compileCache ? [compileCache] : []));
    (c as { commit?: () => void }).commit?.();
  });
  workerSnap = full;
  prevSnap = snap;
  if (!record) phases.clear();
}

await provider.start((l) => (loaded ? loaded(l) : handle(l, false)));
if (opt["warm-up"]) {
  const c = cpuMs();
  // As `sluice run` does it: with the provider's rehearsal where the tree has one.
  const rehearsal = (): LoadResult | null => (provider as { rehearsal?: () => LoadResult | null }).rehearsal?.() ?? null;
  const runs = await (controller as { warmUp?: (runs?: number, fresh?: () => LoadResult | null) => Promise<number> }).warmUp?.(opt["warm-up-runs"] === undefined ? undefined : Number(opt["warm-up-runs"]), rehearsal);
  for (let i = 0; i < 5 && published && delta_; i++) delta_.makeDelta(published, published);
  console.log(`warm-up: ${runs ?? 0} runs, ${(cpuMs() - c).toFixed(0)} ms CPU`);
  phases.clear();
}
const session = opt["cpu-prof"] ? new Session() : null;
if (session) {
  session.connect();
  await session.post("Profiler.enable");
  // 100 us samples: a change takes tens of ms, the default 1 ms interval leaves most functions out.
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
}
for (let k = 0; k < CHANGES; k++) {
  const t = performance.now();
  const c = cpuMs();
  const got = new Promise<LoadResult>((r) => (loaded = r));
  const kind = opt.mix ? k % 3 : 0;
  if (kind === 0) put(`add${k}.yaml`, routeYaml(`add${k}`, 18081, `add${k}.bench.test`, `/add${k}`));
  else if (kind === 1) put("hot.yaml", routeYaml("r0", 18081, "r0.bench.test", k % 2 ? `/r0/v${k}` : "/r0"));
  else unlinkSync(join(dir, `add${k - 2}.yaml`));
  const load = await got;
  add("watch + debounce + load + provider", performance.now() - t);
  // The process idles through the debounce: its CPU time is the write, the watch events and the load.
  add("watch + debounce + load + provider [cpu]", cpuMs() - c);
  handle(load, true);
  add("end to end (one worker)", performance.now() - t);
}
await provider.stop();
if (session) {
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(opt["cpu-prof"]!, JSON.stringify(profile));
}
removeTempDir(dir);
await accessLog.close();
await registry.closeAll();
console.log(`routes: ${N}, changes: ${CHANGES} (${opt.mix ? "a route file added, r0's file rewritten, the added file removed, in turn" : "one route file added each"}), medians in ms; load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
for (const [name, l] of [...phases].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
  console.log(`${name.padEnd(48)} ${median(l).toFixed(1).padStart(8)}  (min ${Math.min(...l).toFixed(1)}, max ${Math.max(...l).toFixed(1)}; first: ${l.slice(0, 5).map((x) => x.toFixed(1)).join(", ")})`);
process.exit(0);
