// The results as a markdown section, and its place in bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { L4Cell, L4Plan, SpliceUse } from "./l4.js";
import { l4Key } from "./l4.js";
import type { Cell, MatrixPlan, Size } from "./matrix.js";
import { cellKey, scalingLines } from "./matrix.js";
import type { ScalePlan, ScaleRow } from "./scale.js";
import { summary } from "./scale.js";
import { fmtBytes, fmtInt, fmtMs, fmtRatio, max, median } from "./stats.js";
import type { Layout, Machine } from "./system.js";
import { TOKEN_COUNT, workersSummary, type WorkersReport } from "./workers.js";

export interface ReportInput {
  key: string;
  title: string;
  command: string;
  date: string;
  machine: Machine;
  layout: Layout;
  origin: string;
  notes: string[];
  /** Wall time per phase (progress.phaseSummary). */
  wall?: string;
  /** 1-minute load average when the run started and ended. */
  load?: { start: number; end: number };
  matrix: { plan: MatrixPlan; cells: Map<string, Cell> } | null;
  scale: { plan: ScalePlan; rows: ScaleRow[] } | null;
  workers?: WorkersReport | null;
  l4?: L4Report | null;
  skipped: string[];
}

export interface L4Report {
  plan: L4Plan;
  cells: Map<string, L4Cell>;
  /** What each sluice's /metrics said about its relay path (null: not exported). */
  splice: Array<{ variant: string; use: SpliceUse | null }>;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function matrixTable(plan: MatrixPlan, cells: Map<string, Cell>): string[] {
  const out = [
    "| body | conns | variant | req/s | x nginx | p50 ms | p99 ms | p99 x nginx | proxy CPU us/req | errors | req/s per run | p99 ms per run | proxy waited for CPU, % per run | sluice's longest event-loop stall, ms per run | TCP timeouts per run |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
  ];
  for (const size of plan.sizes as Size[])
    for (const c of plan.connections) {
      const ref = cells.get(cellKey("nginx", size, c));
      for (const v of plan.variants) {
        const cell = cells.get(cellKey(v.id, size, c))!;
        const ratio = ref ? cell.rps / ref.rps : NaN;
        const p99r = ref ? cell.p99ms / ref.p99ms : NaN;
        out.push(
          `| ${size} | ${c} | ${v.label} | ${fmtInt(cell.rps)} | ${fmtRatio(ratio)} | ${fmtMs(cell.p50ms)} | ${fmtMs(cell.p99ms)} | ${fmtRatio(p99r)} | ${Number.isFinite(cell.cpuUsPerReq) ? cell.cpuUsPerReq.toFixed(1) : "-"} | ${cell.errors} | ${cell.runs.map((r) => fmtInt(r.rps)).join(", ")} | ${cell.runs.map((r) => fmtMs(r.p99ms)).join(", ")} | ${cell.waitPct.map((w) => (Number.isFinite(w) ? w.toFixed(1) : "-")).join(", ")} | ${cell.loopMaxMs.map((m) => (Number.isFinite(m) ? m.toFixed(1) : "-")).join(", ")} | ${cell.tcpTimeouts.map((n) => (Number.isFinite(n) ? String(n) : "-")).join(", ")} |`,
        );
      }
    }
  return out;
}

const fmtUs = (us: number): string => fmtMs(us / 1000);

function workersLines(w: WorkersReport): string[] {
  const p = w.plan;
  const out = [
    `- Every request carries a JWT that sluice verifies (SecurityPolicy jwt, ES256, inline key set); wrk sends ${fmtInt(TOKEN_COUNT)} distinct tokens in turn, more than sluice keeps verified, so each request is a full signature check and the gateway's CPU is the bottleneck rather than wrk and the origin on cpu ${p.loadCpus}. wrk -t1 -c${p.connections} on cpu ${p.loadCpus}; sluice 1 worker on cpu ${p.oneCpus}, sluice 1 worker on cpu ${p.loadCpus} (sharing it with wrk and the origin: what sharing a core costs by itself), sluice ${p.cpus} workers on cpus ${p.allCpus} (sharing cpu ${p.loadCpus} too); ${p.reps} repetition${p.reps === 1 ? "" : "s"} of ${p.seconds}s, interleaved, after a ${p.warmupSeconds}s warm-up each; medians.`,
    "- cores used: CPU time of the gateway's processes (control process included) per second of the run; requests per CPU-second: what the gateway served for each second of CPU it got. Near-linear scaling keeps that figure as workers are added, whatever share of a core each worker can get here.",
    "",
    "| sluice | req/s | p99 ms | cores used | requests per CPU-second | errors | req/s per run |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  const sums = w.variants.map((v) => ({ v, s: workersSummary(v) }));
  for (const { v, s } of sums)
    out.push(`| ${v.workers} worker${v.workers === 1 ? "" : "s"} (cpu${/[-,]/.test(v.cpus) ? "s" : ""} ${v.cpus}) | ${fmtInt(s.rps)} | ${fmtMs(s.p99ms)} | ${s.cores.toFixed(2)} | ${fmtInt(s.perCpuSecond)} | ${s.errors} | ${v.runs.map((r) => fmtInt(r.rps)).join(", ")} |`);
  const one = sums.find((x) => x.v.workers === 1 && x.v.cpus === p.oneCpus)?.s;
  const shared = sums.find((x) => x.v.workers === 1 && x.v.cpus === p.loadCpus)?.s;
  const n = sums.find((x) => x.v.workers !== 1);
  if (one && n)
    out.push(
      "",
      `${n.v.workers} workers against 1: ${fmtRatio(n.s.rps / one.rps)} the requests/s on ${fmtRatio(n.s.cores / one.cores)} the CPU; requests per CPU-second ${fmtRatio(n.s.perCpuSecond / one.perCpuSecond)}${shared ? ` (1 worker sharing cpu ${p.loadCpus}: ${fmtRatio(shared.perCpuSecond / one.perCpuSecond)})` : ""}.`,
    );
  if (w.machine) {
    const m = w.machine;
    const machineRatio = m.together / m.alone;
    out.push(
      "",
      `The machine itself, on the same kind of work (plain processes running ES256 signature checks, ${Math.min(p.seconds, 5)} s): ${fmtInt(m.alone)} checks per CPU-second on cpu ${p.oneCpus} alone, ${fmtInt(m.together)} per CPU-second on each core with all ${p.cpus} busy at once (${fmtRatio(machineRatio)}): a busy core beside another does that much of a lone core's work, the ceiling for the ratio above.${one && n ? ` Against that ceiling the gateway's requests per CPU-second keep ${fmtRatio(n.s.perCpuSecond / one.perCpuSecond / machineRatio)}.` : ""}`,
    );
  }
  return out;
}
const fmtMiB = (bps: number): string => (Number.isFinite(bps) ? `${(bps / 1024 / 1024).toFixed(0)} MiB/s` : "n/a");
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "-");

function l4Tables(r: L4Report): string[] {
  const out = [
    "| test | conns | variant | throughput | x haproxy | p50 ms | p99 ms | p99 x haproxy | proxy CPU | proxy CPU per unit | machine CPU per unit | errors | per run |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const t of r.plan.tests) {
    const ref = r.cells.get(l4Key("haproxy", t.id));
    for (const v of r.plan.variants) {
      const c = r.cells.get(l4Key(v.id, t.id))!;
      const stream = t.mode === "stream";
      const value = (x: { opsPerSec: number; bytesPerSec: number }): number => (stream ? x.bytesPerSec : x.opsPerSec);
      const fmt = (x: number): string => (stream ? fmtMiB(x) : `${fmtInt(x)} rt/s`);
      const ratio = ref ? value(c) / value(ref) : NaN;
      const p99r = ref && !stream ? c.p99us / ref.p99us : NaN;
      // CPU per round trip (us) or per GiB echoed (ms): comparable even where the proxy is not the bottleneck.
      const perUnit = (cpu: number): string => {
        const x = stream ? (cpu / (c.bytesPerSec / 2 ** 30)) * 1000 : (cpu / c.opsPerSec) * 1e6;
        return Number.isFinite(x) ? (stream ? `${x.toFixed(0)} ms/GiB` : `${x.toFixed(1)} us/rt`) : "-";
      };
      out.push(
        `| ${t.label} | ${t.conns} | ${v.label} | ${fmt(value(c))} | ${fmtRatio(ratio)} | ${stream ? "-" : fmtUs(c.p50us)} | ${stream ? "-" : fmtUs(c.p99us)} | ${stream ? "-" : fmtRatio(p99r)} | ${fmtPct(c.proxyCpu)} | ${perUnit(c.proxyCpu)} | ${perUnit(c.machineCpu)} | ${c.errors} | ${c.runs.map((x) => (stream ? fmtMiB(x.bytesPerSec).replace(" MiB/s", "") : fmtInt(x.opsPerSec))).join(", ")} |`,
      );
    }
  }
  const use = (name: string, u: SpliceUse | null): string =>
    u === null
      ? `${name}: its /metrics had no splice counters`
      : `${name}: ${fmtInt(u.kernel)} connection(s) spliced in the kernel, ${fmtInt(u.uring)} by the io_uring thread, ${fmtInt(u.thread)} by the splice(2) thread, ${fmtInt(u.userspace)} relayed in userspace, ${fmtBytes(u.bytes)} moved by the kernel`;
  out.push("", `Relay path as each sluice reported it (its /metrics, after the runs): ${r.splice.map((s) => use(s.variant, s.use)).join("; ")}.`);
  return out;
}

function scaleTables(plan: ScalePlan, rows: ScaleRow[]): string[] {
  const base = rows[0];
  const out = [
    `sluice with ${plan.workers} worker(s) on cpus ${plan.cpus}; routes have distinct hostnames (rN.bench.test) and path prefixes (/rN).`,
    `Each size is a fresh process. Idle worker VmRSS is each worker's lowest sample over ${plan.settleMs / 1000} s after the last route answers, before any load (one sample a second: the garbage of loading the snapshot goes in that time, what a worker keeps never does); "after load" is the median of 5 samples after the idle changes and the throughput runs; memory per route = (mean idle worker VmRSS at N routes - at ${base?.routes ?? "?"} routes) / (N - ${base?.routes ?? "?"}). "change -> all workers": one route file added, until every worker serves the new version, by the gateway's clock (/ready servedAt: when the last worker's report came in, against the harness's clock just before the write; in brackets, until the harness had read its /ready?after=N&wait answer, which adds its own scheduling); "change -> answering": until the first of 20 consecutive 200s on new connections for the new route; idle gateway, each over its own changes (the wire probe's back-to-back connections would load the workers while they compile).`,
    "",
    "| routes | start to ready | worker VmRSS idle | after load | data-plane memory per route | control VmRSS | change -> all workers (/ready) median / max | change -> answering (wire) median / max | req/s (-c64, last route) | p99 ms |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const spread = Math.max(...rows.map((r) => Math.max(...r.workerRss) - Math.min(...r.workerRss)));
  if (rows.length && rows[0]!.workerRss.length > 1)
    out.splice(2, 0, `VmRSS can still include memory V8 has not given back: idle workers of the same process differed by up to ${fmtBytes(spread)} in this run, so a per-route figure below ${fmtBytes(spread)} / (N - ${base?.routes}) per route is within that noise.`);
  for (const r of rows) {
    const perRoute = base && r !== base ? (sum(r.workerRss) / r.workerRss.length - sum(base.workerRss) / base.workerRss.length) / (r.routes - base.routes) : NaN;
    const s = summary(r);
    out.push(
      `| ${fmtInt(r.routes)} | ${fmtMs(r.loadMs)} ms | ${r.workerRss.map(fmtBytes).join(" / ")} | ${r.workerRssLoaded.map(fmtBytes).join(" / ")} | ${r === base ? "(baseline)" : fmtBytes(perRoute)} | ${fmtBytes(r.controlRss)} | ${fmtMs(s.served)} / ${fmtMs(s.servedMax)} ms (${fmtMs(s.ready)} / ${fmtMs(s.readyMax)}) | ${fmtMs(s.wire)} / ${fmtMs(s.wireMax)} ms | ${fmtInt(median(r.load.map((l) => l.rps)))} | ${fmtMs(median(r.load.map((l) => l.p99ms)))} |`,
    );
  }
  if (rows.some((r) => r.churn)) {
    out.push(
      "",
      `Steady load while routes change: wrk -c64 for ${plan.churnSeconds}s on route r0 while the harness adds a route, rewrites r0's file, removes the route and rewrites r0 back, in a loop (each change waits for every worker; timed as "change -> all workers" above, the harness's view in brackets).`,
      "",
      "| routes | changes applied | requests | non-2xx/3xx | socket errors | change -> all workers under load median / max | req/s during changes |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const r of rows) {
      if (!r.churn) continue;
      const c = r.churn;
      out.push(
        `| ${fmtInt(r.routes)} | ${c.changes} | ${fmtInt(c.result.requests)} | ${c.result.non2xx} | ${c.result.socketErrors} | ${fmtMs(median(c.servedMs))} / ${fmtMs(max(c.servedMs))} ms (${fmtMs(median(c.readyMs))} / ${fmtMs(max(c.readyMs))}) | ${fmtInt(c.result.rps)} |`,
      );
    }
  }
  return out;
}

export function renderMarkdown(r: ReportInput): string {
  const m = r.machine;
  const lines = [
    `<!-- bench:${r.key}:start -->`,
    `## ${r.title}`,
    "",
    ...r.notes.map((n) => `> ${n}`),
    ...(r.notes.length ? [""] : []),
    `- Command: \`${r.command}\``,
    `- Date: ${r.date}`,
    `- Machine: ${m.cpus} CPUs (nproc), ${m.cpuModel}, ${m.kernel}, Node.js ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, wrk ${m.wrk}`,
    ...(r.wall ? [`- Wall time: ${r.wall}`] : []),
    ...(r.load ? [`- Load average (1 min, from /proc/loadavg) at start / end: ${r.load.start.toFixed(1)} / ${r.load.end.toFixed(1)} on ${m.cpus} CPUs${r.load.start > m.cpus / 2 || r.load.end > m.cpus / 2 ? " (other work was running: numbers are noisy)" : ""}`] : []),
    `- CPU layout (taskset): wrk -t1 on cpu ${r.layout.load}; origin (${r.origin}) on cpu ${r.layout.origin}; nginx (1 worker), haproxy (nbthread 1) and sluice 1 worker on cpu ${r.layout.proxy}; nginx and sluice with N workers on cpus ${r.layout.all} (sharing cpu ${r.layout.load} with wrk and the origin)`,
  ];
  if (r.matrix) {
    const p = r.matrix.plan;
    lines.push(
      `- L7 runs: wrk -t1, ${p.reps} repetition${p.reps === 1 ? "" : "s"} of ${p.seconds}s per cell, interleaved across variants (order rotated each repetition), ${p.warmupSeconds <= 0 ? "without warm-up" : p.warmupTogether ? `after a ${p.warmupSeconds}s warm-up of all variants at once` : `after a ${p.warmupSeconds}s warm-up per variant`}; medians shown; errors = non-2xx/3xx + socket errors summed over the repetitions`,
      "- Per run, to tell a disturbed run from a slow proxy: how long the proxy's threads were runnable but waited for a CPU (% of the run; another process or its own background threads had the core), sluice's longest event-loop stall (its workers' nodejs_eventloop_lag_max_seconds less the 10 ms sampling period; a GC pause or long task shows here, and the first requests on a run's new connections cost a few ms), and the machine's TCP retransmission timeouts (a dropped segment: 200 ms or more).",
      "",
      "### L7 proxying",
      "",
      ...matrixTable(p, r.matrix.cells),
    );
    const scaling = scalingLines(r.matrix.cells, p, r.machine.cpus);
    if (scaling.length)
      lines.push(
        "",
        `Workers: "nginx ${r.machine.cpus} workers" and "sluice ${r.machine.cpus} workers" share all cpus with wrk and the origin, so neither can double; comparing each with its own 1-worker figure, and sluice's CPU per request, shows whether sluice's workers add cost of their own (proxy CPU = utime + stime of the proxy's processes per request, control process included).`,
        "",
        ...scaling.map((l) => `- ${l}`),
      );
  }
  if (r.workers) lines.push("", "### Workers and cores (the gateway as the bottleneck)", "", ...workersLines(r.workers));
  if (r.scale) lines.push("", "### Route scale", "", ...scaleTables(r.scale.plan, r.scale.rows));
  if (r.l4) {
    const p = r.l4.plan;
    lines.push(
      "",
      "### L4 (TCPRoute)",
      "",
      `- L4 runs: bench/tcp-load.c (one thread, epoll) on cpu ${p.loadCpus} against a C TCP echo server (bench/origin-tcp.c, one thread, epoll) on cpu ${r.layout.origin}; nginx \`stream\` (1 worker), haproxy \`mode tcp\` (nbthread 1) and sluice (1 worker, one TCPRoute) on cpu ${r.layout.proxy}; ${p.reps} repetition${p.reps === 1 ? "" : "s"} of ${p.seconds}s per cell, interleaved across variants (order rotated each repetition), ${p.warmupSeconds > 0 ? `after a ${p.warmupSeconds}s warm-up per variant and test` : "without warm-up"}; medians shown`,
      "- ping-pong: every connection sends 64 B and waits for the echo before sending again (round trips/s, latency per round trip); stream: every connection writes 64 KiB buffers as fast as the socket takes them and reads the echo (bytes/s that came back: each byte crossed the proxy twice)",
      "- proxy CPU: utime + stime of the proxy's processes per second of the run (100% = one core busy). Bytes the kernel splices between sockets are handled in softirq/kworker context and are not counted there; machine CPU per unit counts every busy CPU of the machine (load generator, backend, proxy, softirq, kworkers: the whole cost of a round trip or a GiB, and anything else running); errors = connections that failed or closed early",
      "",
      ...l4Tables(r.l4),
    );
  }
  if (r.skipped.length) lines.push("", "### Not measured", "", ...r.skipped.map((s) => `- ${s}`));
  lines.push(`<!-- bench:${r.key}:end -->`);
  return lines.join("\n") + "\n";
}

/** Replaces the section with the same key in file, or appends it. */
export function writeSection(file: string, section: string, key: string): void {
  const header = "# Benchmark results\n\nProduced by `npm run bench` (see bench/README.md). Each section is one run; a later run with the same\nkey (mode or --label) replaces its section.\n\n";
  let text = existsSync(file) ? readFileSync(file, "utf8") : header;
  const startTag = `<!-- bench:${key}:start -->`;
  const endTag = `<!-- bench:${key}:end -->`;
  const a = text.indexOf(startTag);
  const b = text.indexOf(endTag);
  if (a >= 0 && b > a) text = text.slice(0, a) + section.trimEnd() + text.slice(b + endTag.length);
  else text = text.trimEnd() + "\n\n" + section;
  writeFileSync(file, text.trimEnd() + "\n");
}
