// Before/after comparison for one hot-path change: several sluice builds or node flag sets, each
// a 1-worker gateway on the proxy core with one catch-all route to the nginx origin, measured with
// wrk in interleaved repetitions (A, B, A, B, ...), in the same minute. Prints requests/s, p50, p99
// and the gateway's CPU time per request (utime + stime of its process group / requests wrk counted,
// and the stime part alone: socket calls, which move with the machine's state more than our code does),
// which moves less with other load on the machine than requests/s does, and how long the
// gateway's threads waited for their CPU while runnable (from /proc/<pid>/task/<tid>/schedstat, per
// second of the run): other processes on the proxy core show there, and a run with a high figure
// says more about the machine than about the gateway's latency (p99 especially). `--max-wait PCT`
// leaves runs above that figure out of the medians (the per-run lines still show them).
//
//   node --import tsx bench/hot-path.ts --variant before=/tmp/old/bin/sluice --variant after=bin/sluice
//   node --import tsx bench/hot-path.ts --variant plain=bin/sluice --variant 'semi32=bin/sluice@--max-semi-space-size=32'
//
// A variant is NAME=PATH_TO_bin/sluice, optionally followed by @ and node flags separated by
// spaces (the cluster workers inherit them; --output DIR keeps each one's whole output, e.g. for --trace-gc); `--variant nginx` adds the nginx proxy of the bench as
// a reference (its CPU per request is nginx's). Options: --path /64k|/20b, --conns N, --seconds N, --reps N,
// --warmup SECONDS and --warmup-runs N (warm-up runs per variant before the measured ones; 1 of 1 s by default).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { groupCpuTimes, groupHelperCpu, groupRunqueueWait } from "./lib/procs.js";
import { cleanup, installSignalHandlers, stop } from "./lib/procs.js";
import { ROOT, sluiceVariant, startNginxProxy, startOrigin, startSluiceProxy, type Sluice } from "./lib/servers.js";
import { fmtInt, fmtMs, median } from "./lib/stats.js";
import { freePorts, layout, sleep, tcpTimeouts } from "./lib/system.js";
import { wrk } from "./lib/wrk.js";

const { values: o } = parseArgs({
  options: {
    variant: { type: "string", multiple: true, default: [] },
    path: { type: "string", default: "/64k" },
    conns: { type: "string", default: "64" },
    seconds: { type: "string", default: "3" },
    reps: { type: "string", default: "4" },
    /** Warm-up before the measured runs: --warmup-runs runs of --warmup seconds per variant, each with fresh connections. */
    warmup: { type: "string", default: "1" },
    "warmup-runs": { type: "string", default: "1" },
    /** Runs whose gateway waited for its CPU longer than this share of the run (%) are left out of the medians. */
    "max-wait": { type: "string" },
    /** Folder for each gateway's whole output (e.g. with @--trace-gc). */
    output: { type: "string" },
  },
});

interface V {
  name: string;
  bin: string;
  flags: string[];
  gw?: Sluice;
  runs: { rps: number; p50: number; p90: number; p99: number; cpuUs: number; sysUs: number; waitPct: number; helpersEarlyMs: number; helpersMs: number }[];
}

/** The start of a run whose helper-thread CPU is reported apart: optimised code compiled again shows there. */
const EARLY_MS = 2_000;

/** wrk's 90th percentile in ms (NaN when absent). */
function p90Of(raw: string): number {
  const m = /^\s*90%\s+([\d.]+)(us|ms|s)\s*$/m.exec(raw);
  return m ? Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1) : NaN;
}

const variants: V[] = (o.variant ?? []).map((spec) => (spec === "nginx" ? { name: "nginx", bin: "", flags: [], runs: [] } : { ...sluiceVariant(spec), runs: [] }));
if (variants.length === 0) variants.push({ name: "this checkout", bin: join(ROOT, "bin/sluice"), flags: [], runs: [] });

async function main(): Promise<void> {
  installSignalHandlers();
  const lay = layout(Number((await import("node:os")).availableParallelism()));
  const taken = new Set<number>();
  const [originPort] = await freePorts(1, taken);
  const origin = await startOrigin("nginx", originPort!, lay.origin);
  const conns = Number(o.conns);
  const seconds = Number(o.seconds);
  const reps = Number(o.reps);
  try {
    for (const v of variants) {
      const [p, a] = (await freePorts(2, taken)) as [number, number];
      // With --output, a gateway's whole output is kept (a --trace-deopt log runs to MiBs).
      const build = { bin: v.bin, nodeFlags: v.flags, keep: o.output ? 256 << 20 : undefined };
      v.gw =
        v.name === "nginx"
          ? { ...(await startNginxProxy(p, originPort!, lay.proxy)), adminPort: 0, configDir: "" }
          : await startSluiceProxy(v.name, p, a, originPort!, 1, lay.proxy, { build });
      for (let w = 0; w < Number(o["warmup-runs"]); w++) await wrk({ url: `http://127.0.0.1:${p}${o.path}`, connections: conns, seconds: Number(o.warmup), cpus: lay.load });
    }
    for (let rep = 0; rep < reps; rep++)
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + rep) % variants.length]!;
        const pid = v.gw!.proc.pid;
        const c0 = groupCpuTimes(pid);
        const w0 = groupRunqueueWait(pid);
        const rto0 = tcpTimeouts();
        const h0 = groupHelperCpu(pid);
        const running = wrk({ url: `http://127.0.0.1:${v.gw!.port}${o.path}`, connections: conns, seconds, cpus: lay.load });
        await sleep(EARLY_MS);
        const hEarly = groupHelperCpu(pid);
        const r = await running;
        const c1 = groupCpuTimes(pid);
        const h1 = groupHelperCpu(pid);
        const cpu = c1.user + c1.system - c0.user - c0.system;
        const waitPct = ((groupRunqueueWait(pid) - w0) / seconds) * 100;
        if (r.non2xx + r.socketErrors > 0) process.stderr.write(`${v.name}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors\n`);
        const run = { rps: r.rps, p50: r.p50ms, p90: p90Of(r.raw), p99: r.p99ms, cpuUs: (cpu / r.requests) * 1e6, sysUs: ((c1.system - c0.system) / r.requests) * 1e6, waitPct, helpersEarlyMs: (hEarly - h0) * 1000, helpersMs: (h1 - h0) * 1000 };
        v.runs.push(run);
        process.stderr.write(
          `rep ${rep + 1} ${v.name}: ${fmtInt(r.rps)} req/s, p50/p90/p99 ${fmtMs(run.p50)}/${fmtMs(run.p90)}/${fmtMs(run.p99)} ms, ${run.cpuUs.toFixed(1)} us/req (kernel ${run.sysUs.toFixed(1)}), waited for CPU ${waitPct.toFixed(1)}%, TCP timeouts ${tcpTimeouts() - rto0}, helper threads ${run.helpersEarlyMs.toFixed(0)} ms in the first ${EARLY_MS / 1000} s / ${run.helpersMs.toFixed(0)} ms\n`,
        );
      }
  } finally {
    for (const v of variants) {
      if (!v.gw) continue;
      await stop(v.gw.proc);
      if (o.output) writeFileSync(join(o.output, `${v.name.replace(/\W/g, "_")}.log`), v.gw.proc.output());
    }
    await stop(origin.proc);
  }
  const range = (xs: number[], f: (x: number) => string): string => `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
  console.log(`wrk -t1 -c${conns} -d${seconds}s ${o.path}, ${reps} interleaved runs per variant; median (min-max)`);
  console.log(`| variant | req/s | p50 ms | p90 ms | p99 ms | gateway CPU us/request | of which kernel | waited for CPU % | helper threads' CPU in the first ${EARLY_MS / 1000} s, ms |`);
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const maxWait = o["max-wait"] === undefined ? Infinity : Number(o["max-wait"]);
  if (maxWait !== Infinity) console.log(`runs whose gateway waited for its CPU more than ${maxWait}% of the run are left out (kept/all per variant in the first column)`);
  for (const v of variants) {
    const rs = v.runs.filter((r) => r.waitPct <= maxWait);
    if (rs.length === 0) {
      console.log(`| ${v.name} (0/${v.runs.length}) | - | - | - | - | - | - | - | - |`);
      continue;
    }
    const name = maxWait === Infinity ? v.name : `${v.name} (${rs.length}/${v.runs.length})`;
    console.log(
      `| ${name} | ${range(rs.map((r) => r.rps), fmtInt)} | ${range(rs.map((r) => r.p50), fmtMs)} | ${range(rs.map((r) => r.p90), fmtMs)} | ${range(rs.map((r) => r.p99), fmtMs)} | ${range(rs.map((r) => r.cpuUs), (x) => x.toFixed(1))} | ${range(rs.map((r) => r.sysUs), (x) => x.toFixed(1))} | ${range(rs.map((r) => r.waitPct), (x) => x.toFixed(1))} | ${range(rs.map((r) => r.helpersEarlyMs), (x) => x.toFixed(0))} |`,
    );
  }
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`hot-path failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
