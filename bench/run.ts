// `npm run bench`: sluice against nginx and haproxy on this machine, in one run, with ratios.
// See bench/README.md. Options: --quick, --write, --label NAME, --note TEXT, --origin nginx|node,
// --seconds N, --reps N, --only l7|scale, --scale-sizes 10,1000,5000.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runMatrix, type MatrixPlan, type Size, type Variant } from "./lib/matrix.js";
import { note, progress } from "./lib/progress.js";
import { cleanup, installSignalHandlers, stop } from "./lib/procs.js";
import { renderMarkdown, writeSection } from "./lib/report.js";
import { runScale, type ScalePlan } from "./lib/scale.js";
import { sockmapRatios, startSockmapVariants } from "./lib/sockmap.js";
import { ROOT, startHaproxy, startNginxProxy, startOrigin, startSluiceProxy, type OriginKind, type Server } from "./lib/servers.js";
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
                       [--seconds N] [--reps N] [--only l7|scale] [--scale-sizes 10,1000,5000]
  --quick        smoke version, about one minute: 1 s runs, -c64 only, no "sluice N workers" variant,
                 10 and 1,000 routes only, fewer route changes
  --write        put the markdown section into bench/RESULTS.md (replacing the one with the same key)
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
  if (opt.only !== undefined && opt.only !== "l7" && opt.only !== "scale") throw new Error(`--only expects l7 or scale`);
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("sluice is not built: run `npm run build` (npm run bench does it)");

  ensureTools(note);
  const m = machine();
  const lay = layout(m.cpus);
  const taken = new Set<number>();
  const seconds = positiveInt(opt.seconds, "seconds") ?? (quick ? 1 : 10);
  const reps = positiveInt(opt.reps, "reps") ?? 3;
  if (reps < 3) note(`note: ${reps} repetition(s); medians need 3 or more to mean much`);

  note(`machine: ${m.cpus} CPUs, ${m.cpuModel}, ${m.kernel}, Node.js ${m.node}, nginx ${m.nginx}, HAProxy ${m.haproxy}, wrk ${m.wrk}`);
  note(`layout: wrk -t1 on cpu ${lay.load}; origin (${origin}) on cpu ${lay.origin}; nginx, haproxy, sluice 1 worker on cpu ${lay.proxy}; sluice ${m.cpus} workers on cpus ${lay.all}`);
  if (m.cpus < 2) note("warning: one CPU: the load generator, origin and proxy all share it; ratios only");

  const [originPort] = await freePorts(1, taken);
  progress(`starting origin (${origin}) on 127.0.0.1:${originPort}`);
  const originServer = await startOrigin(origin, originPort!, lay.origin);

  let matrix: { plan: MatrixPlan; cells: Awaited<ReturnType<typeof runMatrix>> } | null = null;
  if (opt.only !== "scale") {
    const [pNginx, pHaproxy, pS1, aS1, pSN, aSN] = (await freePorts(6, taken)) as [number, number, number, number, number, number];
    const servers: Server[] = [];
    try {
      // --quick leaves out "sluice N workers": with wrk and the origin on cpu 0 it mostly measures contention.
      const withN = !quick;
      progress("starting nginx, haproxy and sluice");
      // Started together; each one's start() registers it for cleanup even if another fails.
      const started = await Promise.allSettled([
        startNginxProxy(pNginx, originPort!, lay.proxy),
        startHaproxy(pHaproxy, originPort!, lay.proxy),
        startSluiceProxy("sluice-1", pS1, aS1, originPort!, 1, lay.proxy),
        ...(withN ? [startSluiceProxy("sluice-n", pSN, aSN, originPort!, m.cpus, lay.all)] : []),
      ]);
      for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
      for (const r of started) if (r.status === "rejected") throw r.reason;
      const sockmap = await startSockmapVariants({ origin, originPort: originPort!, originCpus: lay.origin, proxyCpus: lay.proxy, ports: await freePorts(5, taken) });
      servers.push(...sockmap.servers);
      if (sockmap.note) note(sockmap.note);
      const variants: Variant[] = [
        { id: "direct", label: "direct to origin (limit)", port: originPort!, cpus: lay.origin },
        { id: "nginx", label: "nginx", port: pNginx, cpus: lay.proxy },
        { id: "haproxy", label: "haproxy", port: pHaproxy, cpus: lay.proxy },
        { id: "sluice-1", label: "sluice 1 worker", port: pS1, cpus: lay.proxy },
        ...sockmap.variants,
        ...(withN ? [{ id: "sluice-n", label: `sluice ${m.cpus} workers`, port: pSN, cpus: lay.all }] : []),
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
    } finally {
      for (const s of servers) await stop(s.proc);
    }
  }

  let scale: { plan: ScalePlan; rows: Awaited<ReturnType<typeof runScale>> } | null = null;
  if (opt.only !== "l7") {
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
    };
    scale = { plan, rows: await runScale(plan) };
  }
  await stop(originServer.proc);

  const key = opt.label ?? (quick ? "quick" : "full");
  // Quoted as a shell would need them, so the command can be pasted back.
  const argv = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  const command = process.env.npm_lifecycle_event === "bench" ? `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}` : `node --import tsx bench/run.ts ${argv.join(" ")}`.trim();
  const md = renderMarkdown({
    key,
    title: `${opt.label ?? (quick ? "Quick run (--quick)" : "Full run")}, ${new Date().toISOString().slice(0, 10)}`,
    command,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: m,
    layout: lay,
    origin: origin === "nginx" ? "nginx 1 worker serving static files" : "node:http server",
    notes: [
      ...(quick ? ["Quick mode: 1 s runs and fewer variants, a smoke test of the harness and a rough picture, not a measurement to quote."] : []),
      ...(opt.note ?? []),
    ],
    matrix,
    scale,
    skipped: [
      "skipped: the L4 comparison (TCPRoute against haproxy `mode tcp` and nginx `stream`) is not in the harness yet",
      "skipped: socket acceleration not implemented (sluice with acceleration on and off)",
    ],
  });
  note("");
  process.stdout.write(md);
  if (opt.write) {
    const file = join(ROOT, "bench/RESULTS.md");
    writeSection(file, md, key);
    note(`\nwrote section "${key}" to bench/RESULTS.md`);
  }
}

main()
  .catch((e: unknown) => {
    note(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
