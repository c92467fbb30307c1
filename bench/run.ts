// `npm run bench`: sluice against nginx and haproxy on this machine, in one run, with ratios.
// See bench/README.md. Options: --quick, --write, --label NAME, --note TEXT, --origin nginx|node,
// --seconds N, --reps N, --only l7|scale|l4, --scale-sizes 10,1000,5000.
import { existsSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { l4Tests, runL4, spliceUse, startEchoOrigin, startHaproxyTcp, startNginxStream, startSluiceTcp, type L4Plan, type L4Variant } from "./lib/l4.js";
import { runMatrix, scalingLines, type MatrixPlan, type Size, type Variant } from "./lib/matrix.js";
import { note, progress } from "./lib/progress.js";
import { cleanup, installSignalHandlers, stop } from "./lib/procs.js";
import { renderMarkdown, writeSection, type L4Report } from "./lib/report.js";
import { runScale, SETTLE_MS, type ScalePlan } from "./lib/scale.js";
import { sockmapRatios, startSockmapVariants } from "./lib/sockmap.js";
import { ROOT, startHaproxy, startNginxProxy, startOrigin, startSluiceProxy, type OriginKind, type Server, type Sluice } from "./lib/servers.js";
import { ensureTools, freePorts, layout, machine } from "./lib/system.js";

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    label: { type: "string" },
    note: { type: "string", multiple: true, default: [] },
    origin: { type: "string", default: "nginx" },
    seconds: { type: "string" },
    reps: { type: "string" },
    only: { type: "string" },
    "scale-sizes": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opt.help) {
  console.log(`Usage: npm run bench -- [--quick] [--write] [--label NAME] [--note TEXT] [--origin nginx|node]
                       [--seconds N] [--reps N] [--only l7|scale|l4] [--scale-sizes 10,1000,5000]
  --quick        smoke version, about 2.5 minutes with the build: 1 s runs, -c64 only, no N-worker variants,
                 10 and 1,000 routes only, fewer route changes, 9 s idle memory samples, no 256-connection L4 ping-pong
  --only PART    run one part: l7 (HTTP proxying), scale (route scale) or l4 (TCPRoute against
                 nginx stream and haproxy mode tcp)
  --write        put the markdown section into bench/RESULTS.md, replacing the one with the same key
                 (the --label, else the mode and the --only part)
  --label NAME   key and title of the section (default: the mode), e.g. "raw upstream pool"
  --note TEXT    a line quoted at the top of the section (repeatable)
  --origin       what the proxies forward to: nginx serving static files (default) or a node:http server`);
  process.exit(0);
}

const positiveInt = (s: string | undefined, name: string): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${s}"`);
  return n;
};

async function main(): Promise<void> {
  installSignalHandlers();
  const quick = opt.quick === true;
  const origin = opt.origin as OriginKind;
  if (origin !== "nginx" && origin !== "node") throw new Error(`--origin expects nginx or node, got "${opt.origin}"`);
  if (opt.only !== undefined && opt.only !== "l7" && opt.only !== "scale" && opt.only !== "l4") throw new Error(`--only expects l7, scale or l4`);
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("sluice is not built: run `npm run build` (npm run bench does it)");

  // The 1-minute load average at the start and the end goes into the report: on a shared machine it
  // says how much other work the numbers competed with.
  const loadStart = os.loadavg()[0]!;
  ensureTools(note);
  const m = machine();
  const lay = layout(m.cpus);
  const taken = new Set<number>();
  const seconds = positiveInt(opt.seconds, "seconds") ?? (quick ? 1 : 10);
  const reps = positiveInt(opt.reps, "reps") ?? 3;
  if (reps < 3) note(`note: ${reps} repetition(s); medians need 3 or more to mean much`);

  note(`machine: ${m.cpus} CPUs, ${m.cpuModel}, ${m.kernel}, Node.js ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, wrk ${m.wrk}`);
  note(`layout: wrk -t1 on cpu ${lay.load}; origin (${origin}) on cpu ${lay.origin}; nginx, haproxy, sluice 1 worker on cpu ${lay.proxy}; nginx and sluice with ${m.cpus} workers on cpus ${lay.all}`);
  if (m.cpus < 2) note("warning: one CPU: the load generator, origin and proxy all share it; ratios only");

  const wantL7 = opt.only === undefined || opt.only === "l7";
  const wantScale = opt.only === undefined || opt.only === "scale";
  const wantL4 = opt.only === undefined || opt.only === "l4";
  const [originPort] = await freePorts(1, taken);
  let originServer: Server | null = null;
  if (wantL7 || wantScale) {
    progress(`starting origin (${origin}) on 127.0.0.1:${originPort}`);
    originServer = await startOrigin(origin, originPort!, lay.origin);
  }

  let matrix: { plan: MatrixPlan; cells: Awaited<ReturnType<typeof runMatrix>> } | null = null;
  if (wantL7) {
    const [pNginx, pHaproxy, pS1, aS1, pSN, aSN, pNginxN] = (await freePorts(7, taken)) as [number, number, number, number, number, number, number];
    const servers: Server[] = [];
    try {
      // --quick leaves out the N-worker variants: with wrk and the origin on cpu 0 they mostly measure contention.
      const withN = !quick;
      progress("starting nginx, haproxy and sluice");
      // Started together; each one's start() registers it for cleanup even if another fails.
      const started = await Promise.allSettled([
        startNginxProxy(pNginx, originPort!, lay.proxy),
        startHaproxy(pHaproxy, originPort!, lay.proxy),
        startSluiceProxy("sluice-1", pS1, aS1, originPort!, 1, lay.proxy),
        ...(withN ? [startSluiceProxy("sluice-n", pSN, aSN, originPort!, m.cpus, lay.all), startNginxProxy(pNginxN, originPort!, lay.all, m.cpus)] : []),
      ]);
      for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
      for (const r of started) if (r.status === "rejected") throw r.reason;
      const pgid = (port: number): number | undefined => servers.find((s) => s.port === port)?.proc.pid;
      const sockmap = await startSockmapVariants({ origin, originPort: originPort!, originCpus: lay.origin, proxyCpus: lay.proxy, ports: await freePorts(5, taken) });
      servers.push(...sockmap.servers);
      if (sockmap.note) note(sockmap.note);
      const variants: Variant[] = [
        { id: "direct", label: "direct to origin (limit)", port: originPort!, cpus: lay.origin },
        { id: "nginx", label: "nginx", port: pNginx, cpus: lay.proxy, pgid: pgid(pNginx) },
        { id: "haproxy", label: "haproxy", port: pHaproxy, cpus: lay.proxy, pgid: pgid(pHaproxy) },
        { id: "sluice-1", label: "sluice 1 worker", port: pS1, cpus: lay.proxy, pgid: pgid(pS1) },
        ...sockmap.variants,
        ...(withN
          ? [
              { id: "nginx-n", label: `nginx ${m.cpus} workers`, port: pNginxN, cpus: lay.all, pgid: pgid(pNginxN) },
              { id: "sluice-n", label: `sluice ${m.cpus} workers`, port: pSN, cpus: lay.all, pgid: pgid(pSN) },
            ]
          : []),
      ];
      const plan: MatrixPlan = {
        variants,
        sizes: ["20B", "64KiB"] satisfies Size[],
        connections: quick ? [64] : [64, 256],
        reps,
        seconds,
        warmupSeconds: quick ? 1 : 3,
        loadCpus: lay.load,
      };
      matrix = { plan, cells: await runMatrix(plan) };
      for (const line of sockmapRatios(matrix.cells, plan)) note(line);
      for (const line of scalingLines(matrix.cells, plan, m.cpus)) note(line);
    } finally {
      for (const s of servers) await stop(s.proc);
    }
  }

  let scale: { plan: ScalePlan; rows: Awaited<ReturnType<typeof runScale>> } | null = null;
  if (wantScale) {
    const sizes = opt["scale-sizes"] ? opt["scale-sizes"].split(",").map((x) => positiveInt(x.trim(), "scale-sizes")!) : quick ? [10, 1000] : [10, 1000, 5000];
    const plan: ScalePlan = {
      sizes,
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
    scale = { plan, rows: await runScale(plan) };
  }
  if (originServer !== null) await stop(originServer.proc);

  let l4: L4Report | null = null;
  if (wantL4) l4 = await runL4Part(quick, seconds, reps, lay, taken);

  // A run of one part gets its own section, so it does not replace a run of every part.
  const key = opt.label ?? `${quick ? "quick" : "full"}${opt.only ? `-${opt.only}` : ""}`;
  const flags = [quick ? "--quick" : "", opt.only ? `--only ${opt.only}` : ""].filter(Boolean).join(" ");
  const defaultTitle = `${quick ? "Quick run" : "Full run"}${flags ? ` (${flags})` : ""}`;
  // Quoted as a shell would need them, so the command can be pasted back.
  const argv = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  const command = process.env.npm_lifecycle_event === "bench" ? `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}` : `node --import tsx bench/run.ts ${argv.join(" ")}`.trim();
  const md = renderMarkdown({
    key,
    title: `${opt.label ?? defaultTitle}, ${new Date().toISOString().slice(0, 10)}`,
    load: { start: loadStart, end: os.loadavg()[0]! },
    command,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: m,
    layout: lay,
    origin: originServer === null ? "not started: L4 only" : origin === "nginx" ? "nginx 1 worker serving static files" : "node:http server",
    notes: [
      ...(quick ? ["Quick mode: 1 s runs and fewer variants, a smoke test of the harness and a rough picture, not a measurement to quote."] : []),
      ...(opt.note ?? []),
    ],
    matrix,
    scale,
    l4,
    skipped: [],
  });
  note("");
  process.stdout.write(md);
  if (opt.write) {
    const file = join(ROOT, "bench/RESULTS.md");
    writeSection(file, md, key);
    note(`\nwrote section "${key}" to bench/RESULTS.md`);
  }
}

/** TCPRoute through sluice (userspace pipe and kernel splice) against nginx stream and haproxy mode tcp. */
async function runL4Part(quick: boolean, seconds: number, reps: number, lay: ReturnType<typeof layout>, taken: Set<number>): Promise<L4Report> {
  const [pEcho, pNginx, pHaproxy, pPipe, aPipe, pSplice, aSplice] = (await freePorts(7, taken)) as [number, number, number, number, number, number, number];
  progress(`starting the TCP echo backend on 127.0.0.1:${pEcho}`);
  const echo = await startEchoOrigin(pEcho, lay.origin);
  const servers: Server[] = [echo];
  try {
    progress("starting nginx stream, haproxy mode tcp and sluice (TCPRoute)");
    const started = await Promise.allSettled([
      startNginxStream(pNginx, pEcho, lay.proxy),
      startHaproxyTcp(pHaproxy, pEcho, lay.proxy),
      startSluiceTcp("sluice-pipe", pPipe, aPipe, pEcho, lay.proxy, ["--no-splice"]),
      startSluiceTcp("sluice-splice", pSplice, aSplice, pEcho, lay.proxy, []),
    ]);
    for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    const [nginx, haproxy, pipe, splice] = started.map((r) => (r as PromiseFulfilledResult<Server>).value) as [Server, Server, Sluice, Sluice];
    const variants: L4Variant[] = [
      { id: "direct", label: "direct to backend (limit)", port: pEcho, cpus: lay.origin, proc: null },
      { id: "nginx", label: "nginx stream", port: pNginx, cpus: lay.proxy, proc: nginx.proc },
      { id: "haproxy", label: "haproxy mode tcp", port: pHaproxy, cpus: lay.proxy, proc: haproxy.proc },
      { id: "sluice-pipe", label: "sluice 1 worker, userspace pipe (--no-splice)", port: pPipe, cpus: lay.proxy, proc: pipe.proc },
      { id: "sluice-splice", label: "sluice 1 worker, kernel splice (default)", port: pSplice, cpus: lay.proxy, proc: splice.proc },
    ];
    const plan: L4Plan = { variants, tests: l4Tests(quick), reps, seconds, warmupSeconds: 1, loadCpus: lay.load };
    const cells = await runL4(plan);
    return { plan, cells, splice: { pipe: await spliceUse(pipe), splice: await spliceUse(splice) } };
  } finally {
    for (const s of servers) await stop(s.proc);
  }
}

main()
  .catch((e: unknown) => {
    note(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
