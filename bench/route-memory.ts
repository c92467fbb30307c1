// What a route costs in a worker's heap: the IR it parses (transient) and what it retains once the
// snapshot serves (compiled tables and the compact delta base), per route, measured with forced GCs
// (N generated routes, as in the scale benchmark).
// Usage: node --expose-gc --import tsx bench/route-memory.ts [--routes 5000] [--heap-snapshot FILE]
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import type { IrConfig, Snapshot } from "../src/ir/types.js";
import { AccessLog } from "../src/observe/access-log.js";
import { CompileCache, compileSnapshot, type CompiledSnapshot } from "../src/proxy/compile.js";
import { applyDelta, makeDelta } from "../src/proxy/snapshot-delta.js";
import { EndpointRegistry } from "../src/proxy/upstream/cluster.js";
import type { K8sObject } from "../src/resources/types.js";
import { CONTROLLER_NAME, translate } from "../src/translator/index.js";

const { values: opt } = parseArgs({ options: { routes: { type: "string", default: "5000" }, "heap-snapshot": { type: "string" } } });
const N = Number(opt.routes);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function objects(n: number): K8sObject[] {
  const out: K8sObject[] = [
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "sluice" }, spec: { controllerName: CONTROLLER_NAME } },
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "bench", namespace: "default" }, spec: { gatewayClassName: "sluice", listeners: [{ name: "http", protocol: "HTTP", port: 8080 }] } },
    { apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: "origin", namespace: "default" }, spec: { endpoints: [{ ip: { address: "127.0.0.1", port: 9 } }] } },
  ];
  for (let i = 0; i < n; i++) {
    out.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: `r${i}`, namespace: "default" },
      spec: { parentRefs: [{ name: "bench" }], hostnames: [`r${i}.bench.test`], rules: [{ matches: [{ path: { type: "PathPrefix", value: `/r${i}` } }], backendRefs: [{ group: "sluice.dev", kind: "Backend", name: "origin", port: 9 }] }] },
    });
  }
  return out;
}

/**
 * Live heap after full GCs, each in a task of its own (objects a job keeps alive, such as WeakRef
 * targets, go with it). About one run in four still shows ~3 MiB more old space at 5,000 routes
 * (cause not found; a heap snapshot taken then holds no IR): run it a few times.
 */
async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc!();
  }
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/** The config as a worker has it: parsed from the IPC JSON. */
const text = (n: number): string => JSON.stringify(translate(objects(n), { controllerName: CONTROLLER_NAME }).config);
const texts = [text(10), text(N)];
const registry = new EndpointRegistry();
const log = new AccessLog("off");
const rows: string[] = [];
const per = (a: number, b: number): string => `${((b - a) / (N - 10)).toFixed(0)} B/route`;
const snap = (version: number, config: IrConfig): Snapshot => ({ version, hash: String(version), config });

/**
 * What a worker keeps of a snapshot once it serves: the compiled tables and the base for the next
 * delta (worker-main.ts), with the IR it was parsed into dropped. Returns the heap growth of the
 * IR while parsed, and what stays.
 */
async function worker(json: string, keep: unknown[]): Promise<{ ir: number; retained: number }> {
  const h0 = await heap();
  let config: IrConfig | null = JSON.parse(json) as IrConfig;
  const ir = (await heap()) - h0;
  const cache = new CompileCache();
  const compiled = compileSnapshot(snap(1, config), registry, log, cache);
  compiled.commit();
  const base = compiled.deltaBase();
  config = null;
  keep.push(compiled, cache, base);
  return { ir, retained: (await heap()) - h0 };
}

const keepSmall: unknown[] = [];
const keepBig: unknown[] = [];
const small = await worker(texts[0]!, keepSmall);
const big = await worker(texts[1]!, keepBig);
rows.push(`IR as parsed from the IPC JSON (dropped once compiled): ${per(small.ir, big.ir)}`);
rows.push(`retained by a worker (compiled tables + delta base): ${per(small.retained, big.retained)}`);

// A one-route change as the worker gets it: a delta against the compact base, compiled with the
// cache; what is retained afterwards must not grow back towards the IR.
function oneRouteDelta(base: Snapshot, cache: CompileCache): unknown[] {
  const full = JSON.parse(texts[1]!) as IrConfig;
  const gl = full.listeners[0]!.gatewayListeners[0]!;
  const next = snap(2, { ...full, listeners: [{ ...full.listeners[0]!, gatewayListeners: [{ ...gl, virtualHosts: gl.virtualHosts.map((vh, i) => (i === 1 ? { ...vh } : vh)) }] }] });
  const delta = makeDelta(snap(1, full), next);
  if (!delta) throw new Error("no delta");
  const after = compileSnapshot(applyDelta(base, JSON.parse(JSON.stringify(delta)) as typeof delta), registry, log, cache);
  after.commit();
  return [after, cache, after.deltaBase()];
}
{
  const h0 = await heap();
  const [, cache, base] = keepBig.splice(0, 3) as [CompiledSnapshot, CompileCache, Snapshot];
  keepBig.push(...oneRouteDelta(base, cache));
  rows.push(`after a one-route delta: ${cache.stats.vhostsCompiled} virtual host(s) compiled, ${cache.stats.vhostsReused} reused; retained ${(((await heap()) - h0) / 1024).toFixed(0)} KiB more than before it`);
}
console.log(`routes: ${N} (10-route config subtracted)\n${rows.join("\n")}`);
if (opt["heap-snapshot"]) {
  const session = new Session();
  session.connect();
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (m) => chunks.push(m.params.chunk));
  await session.post("HeapProfiler.takeHeapSnapshot");
  writeFileSync(opt["heap-snapshot"], chunks.join(""));
  console.log(`heap snapshot: ${opt["heap-snapshot"]}`);
}
void keepSmall;
void keepBig;
await registry.closeAll();
await log.close();
process.exit(0);
