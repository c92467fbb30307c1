// Route change -> served by every worker, alone: a fresh `sluice run` (one worker per core) on N
// generated routes, one route file added at a time, timed until /ready shows every worker on the new
// version. The same measure as the scale benchmark's "change -> all workers", without the rest,
// so two builds can be compared back to back (--sluice picks the bin/sluice to run). Times are by the
// gateway's clock (/ready servedAt, as the scale benchmark gives them), with the harness's own view
// (until it had read the /ready answer) printed after them; builds without servedAt give only the latter.
// Usage: node --import tsx bench/change-latency.ts [--routes 5000] [--changes 10] [--sluice PATH] [--mix]
//        [--node-flags="--trace-gc ..."] [--log-level debug] [--output FILE] [--poll]
//        [--idle SECONDS] [--load] [--sluice-args="--control-nice=0 ..."]
// --mix runs the scale benchmark's load-test cycle (bench/lib/scale.ts churnStep: a route added, r0
// changed, the route removed, r0 changed back); default: a route file added each time.
// --node-flags go to node for the control process and (through execArgv) its workers; --output FILE
// keeps the gateway's last 4 MiB of output (e.g. its debug log or --trace-gc lines) and the time of
// each change, to see where a slow change went. The time ends when GET /ready?after=N&wait=MS answers
// (the moment the last worker reports the change); --poll polls /ready every 5 ms instead, as builds
// before that wait need (they answer the wait at once, and then are polled anyway). --idle: seconds the
// gateway idles between ready and the first change (default 1; the scale benchmark idles 30 s first).
// --load: an nginx origin answers the routes and wrk -c64 loads r0 (on cpu 0, as in the scale
// benchmark's "under load" part) while the changes are made; its non-2xx and socket errors are
// printed too.
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { cleanup, installSignalHandlers, start, stop, tempDir } from "./lib/procs.js";
import { gatewayYaml, readyState, routeYaml, ROOT, startOrigin, waitVersion, type Sluice } from "./lib/servers.js";
import { changeStart, churnStep, timeChange } from "./lib/scale.js";
import { median, max, quantile } from "./lib/stats.js";
import { wrk, type WrkResult } from "./lib/wrk.js";
import { freePorts, layout } from "./lib/system.js";
import { cpus } from "node:os";

const { values: opt } = parseArgs({ options: { routes: { type: "string", default: "5000" }, changes: { type: "string", default: "10" }, sluice: { type: "string" }, mix: { type: "boolean", default: false }, "node-flags": { type: "string", default: "" }, "log-level": { type: "string", default: "warn" }, output: { type: "string" }, poll: { type: "boolean", default: false }, idle: { type: "string", default: "1" }, load: { type: "boolean", default: false }, "sluice-args": { type: "string", default: "" } } });
const N = Number(opt.routes);
const CHANGES = Number(opt.changes);
const bin = opt.sluice ?? join(ROOT, "bin/sluice");

installSignalHandlers();
try {
  const [port, adminPort, origin] = (await freePorts(3)) as [number, number, number];
  const dir = tempDir(`latency-${N}`);
  writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(port, origin));
  const docs: string[] = [];
  // r0 in a file of its own (as the scale benchmark has it), so --mix can rewrite it alone.
  writeFileSync(join(dir, "hot.yaml"), routeYaml("r0", origin, "r0.bench.test", "/r0"));
  for (let i = 1; i < N; i++) docs.push(routeYaml(`r${i}`, origin, `r${i}.bench.test`, `/r${i}`));
  writeFileSync(join(dir, "routes.yaml"), docs.join("---\n"));
  /** Written the way editors and deploy tools do: a temporary file renamed into place. */
  const put = (name: string, text: string): void => {
    writeFileSync(join(dir, `${name}.tmp`), text);
    renameSync(join(dir, `${name}.tmp`), join(dir, name));
  };
  const workers = cpus().length;
  const lay = layout(workers);
  const nodeFlags = opt["node-flags"]!.split(" ").filter(Boolean);
  const proc = start("sluice", process.execPath, [...nodeFlags, bin, "run", "--config", dir, "--workers", String(workers), "--admin-port", String(adminPort), "--access-log", "off", "--listen-address", "127.0.0.1", "--log-level", opt["log-level"]!, ...opt["sluice-args"]!.split(" ").filter(Boolean)], { cpus: lay.all, keep: 4 << 20 });
  const s: Sluice = { name: "sluice", port, proc, adminPort, configDir: dir };
  await waitVersion(s, 0, 300_000);
  if (opt.load) await startOrigin("nginx", origin, lay.origin);
  await new Promise((r) => setTimeout(r, Number(opt.idle) * 1000));
  // Long enough for every change (each takes ~0.2 s with its pause, as in the scale benchmark); awaited once they are done.
  const load: Promise<WrkResult> | null = opt.load
    ? wrk({ url: `http://127.0.0.1:${port}/r0/20b`, connections: 64, seconds: Math.ceil(CHANGES * 0.4) + 2, cpus: lay.load, headers: { Host: "r0.bench.test" } })
    : null;
  if (load) await new Promise((r) => setTimeout(r, 500));
  const times: number[] = [];
  const seen: number[] = [];
  const marks: string[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const v0 = (await readyState(adminPort))?.version ?? 0;
    const start = changeStart();
    marks.push(`change ${k} at ${start.epoch}`);
    if (opt.mix) churnStep(dir, k, origin);
    else put(`add${k}.yaml`, routeYaml(`add${k}`, origin, `add${k}.bench.test`, `/add${k}`));
    if (opt.poll) {
      await waitVersion(s, v0, 30_000);
      seen.push(performance.now() - start.t0);
      times.push(NaN);
    } else {
      const c = await timeChange(s, v0, start);
      times.push(c.served);
      seen.push(c.seen);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const loaded = load ? await load : null;
  await stop(proc);
  if (opt.output) writeFileSync(opt.output, `${marks.join("\n")}\n${proc.output()}`);
  console.log(`${bin}: ${N} routes, ${workers} workers, ${opt.mix ? "mixed changes" : "route file added"}, change -> all workers${opt.poll ? " (polled)" : ""}${loaded ? ` under load (wrk -c64 on r0: ${Math.round(loaded.rps)} req/s, ${loaded.non2xx} non-2xx, ${loaded.socketErrors} socket errors)` : ""}: ${stats(times)}; as the harness saw it: ${stats(seen)}`);
} finally {
  await cleanup();
}

function stats(xs: number[]): string {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return "n/a";
  return `median ${median(v).toFixed(1)} ms, p90 ${quantile(v, 0.9).toFixed(1)} ms, max ${max(v).toFixed(1)} ms (${v.map((x) => x.toFixed(0)).join(", ")})`;
}

