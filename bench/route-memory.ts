// What a route costs in a worker's heap: the IR a worker holds and the compiled tables, per route,
// measured with forced GCs around building them (N generated routes, as in the scale benchmark).
// Usage: node --expose-gc --import tsx bench/route-memory.ts [--routes 5000] [--heap-snapshot FILE]
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import type { IrConfig, Snapshot } from "../src/ir/types.js";
import { AccessLog } from "../src/observe/access-log.js";
import { compileSnapshot } from "../src/proxy/compile.js";
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

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/** The config as a worker has it: parsed from the IPC JSON. */
const text = (n: number): string => JSON.stringify(translate(objects(n), { controllerName: CONTROLLER_NAME }).config);
const texts = [text(10), text(N)];
const registry = new EndpointRegistry();
const log = new AccessLog("off");
const keep: unknown[] = [];
const rows: string[] = [];
const per = (a: number, b: number): string => `${((b - a) / (N - 10)).toFixed(0)} B/route`;

const h0 = heap();
const small = JSON.parse(texts[0]!) as IrConfig;
const h1 = heap();
const big = JSON.parse(texts[1]!) as IrConfig;
const h2 = heap();
keep.push(small, big);
rows.push(`IR (parsed from IPC JSON): ${per(h1 - h0, h2 - h1)}`);
const snap = (version: number, config: IrConfig): Snapshot => ({ version, hash: String(version), config });
const h3 = heap();
keep.push(compileSnapshot(snap(1, small), registry, log));
const h4 = heap();
keep.push(compileSnapshot(snap(2, big), registry, log));
const h5 = heap();
rows.push(`compiled tables: ${per(h4 - h3, h5 - h4)}`);
rows.push(`total: ${per(h1 - h0 + h4 - h3, h2 - h1 + h5 - h4)}`);
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
void keep;
await registry.closeAll();
await log.close();
process.exit(0);
