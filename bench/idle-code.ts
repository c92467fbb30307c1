// What a memory-reducing collection in an idle spell costs a 1-worker gateway: how many of its
// optimised functions V8 throws away ("weak objects": code whose embedded maps or objects died), and
// how many it compiles again in the next run. V8's memory reducer runs such collections some seconds
// after a process goes quiet; it is not predictable when, so this asks for one through the worker's
// inspector (HeapProfiler.collectGarbage, which V8 runs as a low-memory collection: the same kind, it
// keeps no map that only optimised code refers to).
//
//   node --experimental-websocket --import tsx bench/idle-code.ts [--variant NAME=PATH_TO_bin/sluice[@node flags] ...] [--rounds N]
//
// Per round: wrk -c256 for --seconds on /20b, 2 s idle, one collection, 1 s, then the next round.
// Prints per round: functions marked for deoptimisation for "weak objects" by the collection, and
// functions optimised during the next run's first 2 s (from the workers' --trace-deopt/--trace-opt).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanup, installSignalHandlers, stop } from "./lib/procs.js";
import { ROOT, sluiceVariant, startOrigin, startSluiceProxy, type Sluice } from "./lib/servers.js";
import { freePorts, layout, sleep } from "./lib/system.js";
import { wrk } from "./lib/wrk.js";

const { values: o } = parseArgs({
  options: {
    variant: { type: "string", multiple: true, default: [] },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    conns: { type: "string", default: "256" },
    /** Leave the collection out (what the runs compile anyway). */
    "no-collect": { type: "boolean", default: false },
    /** Print the functions each collection marked. */
    names: { type: "boolean", default: false },
  },
});

interface V {
  name: string;
  gw: Sluice;
  marked: number[];
  recompiled: number[];
  p99: number[];
}

const WEAK = /reason: weak objects/g;
const OPTIMISED = /\[completed (?:optimizing|compiling)[^\n]*TURBOFAN/g;

function count(re: RegExp, s: string): number {
  return s.match(re)?.length ?? 0;
}

/** One CDP call on the worker's inspector (node 20: --experimental-websocket for the global WebSocket). */
async function collectGarbage(output: string): Promise<void> {
  // Each process says where its inspector listens (port 0: a port of its own): the control process
  // (twice: it starts itself again with its own node flags), then the worker, which starts last.
  const url = [...output.matchAll(/Debugger listening on (ws:\/\/\S+)/g)].at(-1)?.[1];
  if (!url) throw new Error("the worker's inspector did not say where it listens");
  const ws = new WebSocket(url);
  await new Promise<void>((res, rej) => {
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    ws.onmessage = (m) => {
      const r = JSON.parse(String(m.data)) as { id?: number; error?: unknown };
      if (r.id !== 1) return;
      ws.close();
      if (r.error) rej(new Error(JSON.stringify(r.error)));
      else res();
    };
    ws.onerror = () => rej(new Error(`inspector ${url}: connection failed`));
  });
}

async function main(): Promise<void> {
  installSignalHandlers();
  const specs = o.variant ?? [];
  const lay = layout(Number((await import("node:os")).availableParallelism()));
  const taken = new Set<number>();
  const [originPort] = await freePorts(1, taken);
  const origin = await startOrigin("nginx", originPort!, lay.origin);
  const vs: V[] = [];
  for (const spec of specs.length ? specs : [`this=${join(ROOT, "bin/sluice")}`]) {
    const { name, bin, flags } = sluiceVariant(spec);
    const [port, admin] = (await freePorts(2, taken)) as [number, number];
    const nodeFlags = ["--trace-deopt", "--trace-opt", "--inspect=127.0.0.1:0", ...flags];
    const gw = await startSluiceProxy(name, port, admin, originPort!, 1, lay.proxy, { build: { bin, nodeFlags, keep: 256 << 20 } });
    vs.push({ name, gw, marked: [], recompiled: [], p99: [] });
  }
  try {
    for (let round = 0; round <= Number(o.rounds); round++)
      for (const v of vs) {
        const gw = v.gw;
        const before = gw.proc.output().length;
        const run = wrk({ url: `http://127.0.0.1:${gw.port}/20b`, connections: Number(o.conns), seconds: Number(o.seconds), cpus: lay.load });
        await sleep(2_000);
        const early = gw.proc.output().slice(before);
        const r = await run;
        await sleep(2_000);
        const mark = gw.proc.output().length;
        if (!o["no-collect"])
          await collectGarbage(gw.proc.output()).catch((e: unknown) => {
            throw new Error(`${String(e)}\n${gw.proc.output().slice(-3000)}`);
          });
        await sleep(1_000);
        const after = gw.proc.output().slice(mark);
        const marked = count(WEAK, after);
        if (o.names) for (const line of after.split("\n")) if (line.includes("weak objects")) process.stderr.write(`  ${line}\n`);
        // Round 0 warms up: its first seconds compile everything for the first time.
        if (round > 0) {
          v.recompiled.push(count(OPTIMISED, early));
          v.p99.push(r.p99ms);
        }
        if (round < Number(o.rounds)) v.marked.push(marked);
        process.stderr.write(`round ${round} ${v.name}: p99 ${r.p99ms.toFixed(1)} ms, optimised in the first 2 s ${count(OPTIMISED, early)}, then marked (weak objects) ${marked}\n`);
      }
  } finally {
    for (const v of vs) await stop(v.gw.proc);
    await stop(origin.proc);
  }
  console.log("| variant | marked for deopt by an idle collection (per round) | optimised in the next run's first 2 s | p99 ms |");
  console.log("| --- | --- | --- | --- |");
  for (const v of vs) console.log(`| ${v.name} | ${v.marked.join(", ")} | ${v.recompiled.join(", ")} | ${v.p99.map((x) => x.toFixed(1)).join(", ")} |`);
}

main().then(
  () => cleanup(),
  async (err: unknown) => {
    console.error(err);
    await cleanup();
    process.exit(1);
  },
);
