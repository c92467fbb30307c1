// What this machine gives per core when every core is busy, for the workers part: the gateway's main
// cost there (an ES256 signature check per request) run by plain processes, one alone on the 1-worker
// core, then one per core at once. On a virtual machine two vCPUs can share a physical core or a power
// budget, so a core busy beside another may do less work per CPU-second than a core busy alone; that
// ratio is the ceiling for "near-linear" here, whatever the gateway does.
import { start } from "./procs.js";

/** Runs in each probe process: ES256 verifications for `seconds`, then one JSON line on stdout. */
const PROBE = `
const { generateKeyPairSync, sign, verify } = require("node:crypto");
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const data = Buffer.alloc(200, 97);
const sig = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
const key = { key: publicKey, dsaEncoding: "ieee-p1363" };
for (let i = 0; i < 200; i++) verify("sha256", data, key, sig);
const c0 = process.cpuUsage();
const end = performance.now() + Number(process.argv[1]) * 1000;
let ops = 0;
while (performance.now() < end) {
  for (let i = 0; i < 50; i++) if (!verify("sha256", data, key, sig)) throw new Error("bad signature");
  ops += 50;
}
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ops, cpuSeconds: (c.user + c.system) / 1e6 }) + "\\n");
`;

export interface CoreProbe {
  /** ES256 verifications per CPU-second: one process alone, and the mean over one process per core at once. */
  alone: number;
  together: number;
}

async function probe(cpuSets: string[], seconds: number): Promise<number[]> {
  const procs = cpuSets.map((cpus, i) => start(`core-probe-${i}`, process.execPath, ["-e", PROBE, String(seconds)], { cpus }));
  const codes = await Promise.all(procs.map((p) => p.exited));
  return procs.map((p, i) => {
    const line = p.output().trim().split("\n").pop() ?? "";
    let r: { ops?: unknown; cpuSeconds?: unknown } = {};
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      // reported below
    }
    if (codes[i] !== 0 || typeof r.ops !== "number" || typeof r.cpuSeconds !== "number" || r.cpuSeconds <= 0) {
      throw new Error(`core probe on cpu ${cpuSets[i]} failed (exit ${codes[i]}): ${p.output().slice(-500)}`);
    }
    return r.ops / r.cpuSeconds;
  });
}

/** `alone`: the core of the 1-worker gateway; `every`: one entry per core, busy at the same time. */
export async function coreProbe(alone: string, every: string[], seconds: number): Promise<CoreProbe> {
  const [one] = await probe([alone], seconds);
  const all = await probe(every, seconds);
  return { alone: one!, together: all.reduce((a, b) => a + b, 0) / all.length };
}
