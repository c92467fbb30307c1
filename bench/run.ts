// `npm run bench`: sluice against nginx and haproxy on this machine, in one run, with ratios.
// See bench/README.md. Options: --quick, --write, --label NAME, --note TEXT, --origin nginx|node,
// --seconds N, --reps N, --l4-reps N, --only l7|workers|scale|l4, --scale-sizes 10,1000,5000.
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ensureBuilt } from "./lib/build.js";
import { l4Tests, runL4, spliceUse, startEchoOrigin, startHaproxyTcp, startNginxStream, startSluiceTcp, type L4Plan, type L4Variant } from "./lib/l4.js";
import { runMatrix, scalingLines, type MatrixPlan, type Size, type Variant } from "./lib/matrix.js";
import { note, phase, phaseSummary, progress } from "./lib/progress.js";
import { runWorkers, type WorkersReport } from "./lib/workers.js";
import { cleanup, installSignalHandlers, stop } from "./lib/procs.js";
import { renderMarkdown, writeSection, type L4Report } from "./lib/report.js";
import { QUICK_IDLE_MS, runScale, SETTLE_MS, startScaleGateway, type ScaleGateway, type ScalePlan } from "./lib/scale.js";
import { smokeProblems } from "./lib/smoke.js";
import { sockmapRatios, startSockmapVariants } from "./lib/sockmap.js";
import { ROOT, startHaproxy, startNginxProxy, startOrigin, startSluiceProxy, type OriginKind, type Server, type Sluice } from "./lib/servers.js";
import { ensureTools, freePorts, layout, machine, type Layout } from "./lib/system.js";

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    label: { type: "string" },
    note: { type: "string", multiple: true, default: [] },
    origin: { type: "string", default: "nginx" },
    seconds: { type: "string" },
    reps: { type: "string" },
    "l4-reps": { type: "string" },
    only: { type: "string" },
    "scale-sizes": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opt.help) {
  console.log(`Usage: npm run bench -- [--quick] [--write] [--label NAME] [--note TEXT] [--origin nginx|node]
                       [--seconds N] [--reps N] [--l4-reps N] [--only l7|workers|scale|l4] [--scale-sizes 10,1000,5000]
  Builds first, only what changed (eBPF objects; tsc --incremental when a src/ file is newer
  than its output in dist/; npm run build if that was not enough), then runs every part:
  L7 proxying, workers and cores, route scale and L4 (TCPRoute). A full run takes about 42
  minutes on 2 cores.
  --quick        smoke run of under a minute on 2 cores (measured: 49 s with dist/ up to date;
                 a full compile adds 10-15 s): every part once, with every L7 and L4 variant and both
                 body sizes, but one 1 s run per L7 cell (-c64 only) after one 1 s warm-up of all
                 variants together, one 0.5 s run per L4 cell without warm-up (no 256-connection
                 ping-pong), route scale at 10 and 1,000 routes (3 + 3 route changes, 1 s throughput,
                 2 s of changes under load), no N-worker L7 variants; every part's servers start at
                 once. Exits with status 1 when a part is broken (no requests, errors, a route that
                 never answers), and --write files it as a "Smoke run", never as a full run.
  --only PART    run one part: l7 (HTTP proxying), workers (1 worker against one per core, with
                 a JWT verified on every request so that the gateway is the bottleneck), scale
                 (route scale) or l4 (TCPRoute against nginx stream and haproxy mode tcp)
  --write        put the markdown section into bench/RESULTS.md, replacing the one with the same key
                 (the --label, else the mode and the --only part; --quick keys start with "quick")
  --label NAME   key and title of the section (default: the mode), e.g. "raw upstream pool"
  --note TEXT    a line quoted at the top of the section (repeatable)
  --seconds N    length of each measured run (default 10; --quick: 1, L4 0.5)
  --reps N       repetitions per cell (default 3; --quick: 1)
  --l4-reps N    repetitions per L4 cell (default 5, or --reps when given; --quick: 1): L4
                 ping-pong swings more from run to run than L7 does
  --origin       what the proxies forward to: nginx serving static files (default) or a node:http server`);
  process.exit(0);
}

const positiveInt = (s: string | undefined, name: string): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${s}"`);
  return n;
};

interface L7Setup {
  servers: Server[];
  variants: Variant[];
  note?: string;
}

/** nginx, haproxy and the sluice variants, started together, all forwarding to the origin. */
async function startL7(originPort: number, origin: OriginKind, withN: boolean, cpus: number, lay: Layout, taken: Set<number>): Promise<L7Setup> {
  const [pNginx, pHaproxy, pS1, aS1, pSN, aSN, pNginxN] = (await freePorts(7, taken)) as [number, number, number, number, number, number, number];
  const sockmapPorts = await freePorts(5, taken);
  progress("starting nginx, haproxy and sluice");
  // Started together; each one's start() registers it for cleanup even if another fails.
  const sockmapStarted = startSockmapVariants({ origin, originPort, originCpus: lay.origin, proxyCpus: lay.proxy, ports: sockmapPorts });
  const started = await Promise.allSettled([
    startNginxProxy(pNginx, originPort, lay.proxy),
    startHaproxy(pHaproxy, originPort, lay.proxy),
    startSluiceProxy("sluice-1", pS1, aS1, originPort, 1, lay.proxy),
    ...(withN ? [startSluiceProxy("sluice-n", pSN, aSN, originPort, cpus, lay.all), startNginxProxy(pNginxN, originPort, lay.all, cpus)] : []),
  ]);
  const sockmapResult = await Promise.allSettled([sockmapStarted]);
  const servers: Server[] = [];
  for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
  for (const r of [...started, ...sockmapResult]) if (r.status === "rejected") throw r.reason;
  const pgid = (port: number): number | undefined => servers.find((s) => s.port === port)?.proc.pid;
  const sockmap = (sockmapResult[0] as PromiseFulfilledResult<Awaited<typeof sockmapStarted>>).value;
  servers.push(...sockmap.servers);
  const variants: Variant[] = [
    { id: "direct", label: "direct to origin (limit)", port: originPort, cpus: lay.origin },
    { id: "nginx", label: "nginx", port: pNginx, cpus: lay.proxy, pgid: pgid(pNginx) },
    { id: "haproxy", label: "haproxy", port: pHaproxy, cpus: lay.proxy, pgid: pgid(pHaproxy) },
    { id: "sluice-1", label: "sluice 1 worker", port: pS1, cpus: lay.proxy, pgid: pgid(pS1), adminPort: aS1 },
    ...sockmap.variants,
    ...(withN
      ? [
          { id: "nginx-n", label: `nginx ${cpus} workers`, port: pNginxN, cpus: lay.all, pgid: pgid(pNginxN) },
          { id: "sluice-n", label: `sluice ${cpus} workers`, port: pSN, cpus: lay.all, pgid: pgid(pSN), adminPort: aSN },
        ]
      : []),
  ];
  return { servers, variants, ...(sockmap.note ? { note: sockmap.note } : {}) };
}

async function main(): Promise<void> {
  installSignalHandlers();
  const quick = opt.quick === true;
  const origin = opt.origin as OriginKind;
  if (origin !== "nginx" && origin !== "node") throw new Error(`--origin expects nginx or node, got "${opt.origin}"`);
  if (opt.only !== undefined && !["l7", "workers", "scale", "l4"].includes(opt.only)) throw new Error(`--only expects l7, workers, scale or l4`);
  phase("build");
  ensureBuilt(ROOT, note);

  // The 1-minute load average at the start and the end goes into the report: on a shared machine it
  // says how much other work the numbers competed with.
  const loadStart = os.loadavg()[0]!;
  phase("set-up");
  ensureTools(note);
  const m = machine();
  const lay = layout(m.cpus);
  const taken = new Set<number>();
  const seconds = positiveInt(opt.seconds, "seconds") ?? (quick ? 1 : 10);
  // --quick: one run per cell; the smoke run shows that every part works, not how noisy it is.
  const reps = positiveInt(opt.reps, "reps") ?? (quick ? 1 : 3);
  if (reps < 3 && !quick) note(`note: ${reps} repetition(s); medians need 3 or more to mean much`);
  const l4Reps = positiveInt(opt["l4-reps"], "l4-reps") ?? (quick ? 1 : opt.reps !== undefined ? reps : 5);
  if (quick) note("smoke run (--quick): every part once, one short run per cell; it fails on broken parts, its numbers are not to quote");

  note(`machine: ${m.cpus} CPUs, ${m.cpuModel}, ${m.kernel}, Node.js ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, wrk ${m.wrk}`);
  note(`layout: wrk -t1 on cpu ${lay.load}; origin (${origin}) on cpu ${lay.origin}; nginx, haproxy, sluice 1 worker on cpu ${lay.proxy}; nginx and sluice with ${m.cpus} workers on cpus ${lay.all}`);
  if (m.cpus < 2) note("warning: one CPU: the load generator, origin and proxy all share it; ratios only");

  const wantL7 = opt.only === undefined || opt.only === "l7";
  const wantWorkers = opt.only === undefined || opt.only === "workers";
  const wantScale = opt.only === undefined || opt.only === "scale";
  const wantL4 = opt.only === undefined || opt.only === "l4";
  const [originPort] = await freePorts(1, taken);
  let originServer: Server | null = null;
  if (wantL7 || wantWorkers || wantScale) {
    progress(`starting origin (${origin}) on 127.0.0.1:${originPort}`);
    originServer = await startOrigin(origin, originPort!, lay.origin);
  }
  // --quick leaves out the N-worker variants: with wrk and the origin on cpu 0 they mostly measure contention.
  const withN = !quick;
  const scalePlan: ScalePlan = {
    sizes: opt["scale-sizes"] ? opt["scale-sizes"].split(",").map((x) => positiveInt(x.trim(), "scale-sizes")!) : quick ? [10, 1000] : [10, 1000, 5000],
    workers: m.cpus,
    cpus: lay.all,
    loadCpus: lay.load,
    originPort: originPort!,
    ports: async () => (await freePorts(2, taken)) as [number, number],
    changes: quick ? 3 : 10,
    seconds,
    reps: quick ? 1 : reps,
    churnSeconds: quick ? 2 : 15,
    // Quick: long enough for the workers' collection after the snapshot (6-7 s), not for V8 to give back the rest.
    settleMs: quick ? 9_000 : SETTLE_MS,
  };

  // --quick starts the processes of every part at once: set-up is most of the time that is not
  // measurement, and the scale gateways' idle time (their idle memory sample waits for the workers'
  // post-load collection) passes during the L7 runs instead of on its own. Idle servers of the
  // other parts cost next to nothing while one part is measured.
  let l7Setup: L7Setup | null = null;
  let scaleStarted: ScaleGateway[] | undefined;
  let l4Setup: L4Setup | null = null;
  if (quick) {
    [l7Setup, scaleStarted, l4Setup] = await Promise.all([
      wantL7 ? startL7(originPort!, origin, withN, m.cpus, lay, taken) : null,
      wantScale ? Promise.all(scalePlan.sizes.map((n) => startScaleGateway(scalePlan, n, (t) => progress(`[scale] ${t}`)))) : undefined,
      wantL4 ? startL4(lay, taken) : null,
    ]);
  }

  let matrix: { plan: MatrixPlan; cells: Awaited<ReturnType<typeof runMatrix>> } | null = null;
  if (wantL7) {
    try {
      l7Setup ??= await startL7(originPort!, origin, withN, m.cpus, lay, taken);
      if (l7Setup.note) note(l7Setup.note);
      phase("L7");
      const plan: MatrixPlan = {
        variants: l7Setup.variants,
        sizes: ["20B", "64KiB"] satisfies Size[],
        connections: quick ? [64] : [64, 256],
        reps,
        seconds,
        warmupSeconds: quick ? 1 : 3,
        warmupTogether: quick,
        loadCpus: lay.load,
      };
      matrix = { plan, cells: await runMatrix(plan) };
      for (const line of sockmapRatios(matrix.cells, plan)) note(line);
      for (const line of scalingLines(matrix.cells, plan, m.cpus)) note(line);
    } finally {
      if (l7Setup) await Promise.all(l7Setup.servers.map((s) => stop(s.proc)));
    }
  }

  let workers: WorkersReport | null = null;
  if (wantWorkers) {
    phase("workers");
    workers = await runWorkers({
      cpus: m.cpus,
      oneCpus: lay.proxy,
      allCpus: lay.all,
      loadCpus: lay.load,
      originPort: originPort!,
      ports: async () => (await freePorts(2, taken)) as [number, number],
      connections: 64,
      seconds,
      reps,
      warmupSeconds: quick ? 1 : 3,
    });
  }

  let scale: { plan: ScalePlan; rows: Awaited<ReturnType<typeof runScale>> } | null = null;
  if (wantScale) {
    phase("scale");
    scale = { plan: scalePlan, rows: await runScale(scalePlan, scaleStarted) };
  }
  if (originServer !== null) await stop(originServer.proc);

  let l4: L4Report | null = null;
  if (wantL4) {
    phase("L4");
    l4Setup ??= await startL4(lay, taken);
    // --quick: 0.5 s per L4 cell (tcp-load takes fractions of a second; wrk does not).
    l4 = await runL4Part(quick, opt.seconds === undefined && quick ? 0.5 : seconds, l4Reps, lay, l4Setup);
  }
  const wall = phaseSummary();

  const problems = smokeProblems({ matrix, workers, scale, l4 });
  for (const p of problems) note(`${quick ? "smoke check FAILED" : "check"}: ${p}`);
  // A quick run gets a "quick" key of its own, so --write never puts it where a full run's section is;
  // a run of one part gets its own section too, so it does not replace a run of every part.
  const key = quick ? `quick${opt.label ? `: ${opt.label}` : opt.only ? `-${opt.only}` : ""}` : (opt.label ?? `full${opt.only ? `-${opt.only}` : ""}`);
  const flags = [quick ? "--quick" : "", opt.only ? `--only ${opt.only}` : ""].filter(Boolean).join(" ");
  const title = quick ? `Smoke run (${flags})${opt.label ? `: ${opt.label}` : ""}` : (opt.label ?? `Full run${flags ? ` (${flags})` : ""}`);
  // Quoted as a shell would need them, so the command can be pasted back.
  const argv = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  const command = process.env.npm_lifecycle_event === "bench" ? `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}` : `node --import tsx bench/run.ts ${argv.join(" ")}`.trim();
  const md = renderMarkdown({
    key,
    title: `${title}, ${new Date().toISOString().slice(0, 10)}`,
    load: { start: loadStart, end: os.loadavg()[0]! },
    command,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: m,
    layout: lay,
    origin: originServer === null ? "not started: L4 only" : origin === "nginx" ? "nginx 1 worker serving static files" : "node:http server",
    notes: [
      ...(quick
        ? [
            "Smoke run (--quick): every part once with one short run per cell and no repetitions, to show that each part works; not a measurement to quote (compare full runs).",
            ...(scaleStarted
              ? [`Route scale: the gateways of every size were started together with the L7 processes and idled through the L7 part; idle worker VmRSS is each worker's lowest sample over the last ${QUICK_IDLE_MS / 1000} s or more of the first ${scalePlan.settleMs / 1000} s or more after its last route answered.`]
              : []),
            ...problems.map((p) => `Smoke check FAILED: ${p}`),
          ]
        : problems.map((p) => `Check: ${p}`)),
      ...(opt.note ?? []),
    ],
    wall,
    matrix,
    workers,
    scale,
    l4,
    skipped: [],
  });
  note("");
  process.stdout.write(md);
  note(`time: ${wall}`);
  if (opt.write) {
    const file = join(ROOT, "bench/RESULTS.md");
    writeSection(file, md, key);
    note(`\nwrote section "${key}" to bench/RESULTS.md`);
  }
  if (quick && problems.length > 0) {
    note(`\nsmoke run FAILED: ${problems.length} problem(s), listed above`);
    process.exitCode = 1;
  }
}

interface L4Setup {
  servers: Server[];
  variants: L4Variant[];
  /** The sluice variants whose /metrics say which relay path carried their connections. */
  relays: { variant: string; s: Sluice }[];
}

/** The TCP echo backend, then nginx stream, haproxy mode tcp and the sluice relay variants in front of it. */
async function startL4(lay: Layout, taken: Set<number>): Promise<L4Setup> {
  const [pEcho, pNginx, pHaproxy, pPipe, aPipe, pThread, aThread, pSplice, aSplice, pUring, aUring] = (await freePorts(11, taken)) as [number, number, number, number, number, number, number, number, number, number, number];
  progress(`starting the TCP echo backend on 127.0.0.1:${pEcho}`);
  const echo = await startEchoOrigin(pEcho, lay.origin);
  const servers: Server[] = [echo];
  try {
    progress("starting nginx stream, haproxy mode tcp and sluice (TCPRoute)");
    const started = await Promise.allSettled([
      startNginxStream(pNginx, pEcho, lay.proxy),
      startHaproxyTcp(pHaproxy, pEcho, lay.proxy),
      startSluiceTcp("sluice-pipe", pPipe, aPipe, pEcho, lay.proxy, ["--l4-relay", "userspace"]),
      startSluiceTcp("sluice-thread", pThread, aThread, pEcho, lay.proxy, ["--l4-relay", "thread"]),
      startSluiceTcp("sluice-splice", pSplice, aSplice, pEcho, lay.proxy, ["--l4-relay", "kernel"]),
      startSluiceTcp("sluice-uring", pUring, aUring, pEcho, lay.proxy, ["--l4-relay", "uring"]),
    ]);
    for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    const [nginx, haproxy, pipe, thread, splice, uring] = started.map((r) => (r as PromiseFulfilledResult<Server>).value) as [Server, Server, Sluice, Sluice, Sluice, Sluice];
    const variants: L4Variant[] = [
      { id: "direct", label: "direct to backend (limit)", port: pEcho, cpus: lay.origin, proc: null },
      { id: "nginx", label: "nginx stream", port: pNginx, cpus: lay.proxy, proc: nginx.proc },
      { id: "haproxy", label: "haproxy mode tcp", port: pHaproxy, cpus: lay.proxy, proc: haproxy.proc },
      { id: "sluice-pipe", label: "sluice 1 worker, userspace pipe (--l4-relay userspace)", port: pPipe, cpus: lay.proxy, proc: pipe.proc },
      { id: "sluice-uring", label: "sluice 1 worker, io_uring thread (--l4-relay uring, default)", port: pUring, cpus: lay.proxy, proc: uring.proc },
      { id: "sluice-thread", label: "sluice 1 worker, splice(2) thread (--l4-relay thread)", port: pThread, cpus: lay.proxy, proc: thread.proc },
      { id: "sluice-splice", label: "sluice 1 worker, kernel splice (--l4-relay kernel)", port: pSplice, cpus: lay.proxy, proc: splice.proc },
    ];
    const relays = [
      { variant: "userspace variant", s: pipe },
      { variant: "uring variant", s: uring },
      { variant: "thread variant", s: thread },
      { variant: "kernel variant", s: splice },
    ];
    return { servers, variants, relays };
  } catch (e) {
    await Promise.all(servers.map((s) => stop(s.proc)));
    throw e;
  }
}

/** TCPRoute through sluice (userspace pipe, io_uring thread, splice(2) thread, kernel splice) against nginx stream and haproxy mode tcp. */
async function runL4Part(quick: boolean, seconds: number, reps: number, lay: Layout, setup: L4Setup): Promise<L4Report> {
  const { servers, variants, relays } = setup;
  try {
    const plan: L4Plan = { variants, tests: l4Tests(quick), reps, seconds, warmupSeconds: quick ? 0 : 1, loadCpus: lay.load };
    const cells = await runL4(plan);
    return { plan, cells, splice: await Promise.all(relays.map(async (u) => ({ variant: u.variant, use: await spliceUse(u.s) }))) };
  } finally {
    // --quick: 1 s grace, not 5 (a sluice with kernel splice has taken ~5 s to exit after the stream test; stop() says so).
    await Promise.all(servers.map((s) => stop(s.proc, quick ? 1_000 : undefined)));
  }
}

main()
  .catch((e: unknown) => {
    note(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
