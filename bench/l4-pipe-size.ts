// Which pipe size the splice(2) relay thread should use: sluice (--l4-relay thread) started once
// per size (SLUICE_SPLICE_PIPE_SIZE), each driven in turn by bench/tcp-load.c, interleaved. Builds the C
// load generator and echo server first if needed; sluice itself must be built (npm run build).
// Usage: flock /tmp/sluice-bench.lock node --import tsx bench/l4-pipe-size.ts [seconds] [reps] [sizes in KiB, comma-separated]
import { buildBenchTools } from "./lib/build.js";
import { l4Tests, startEchoOrigin, startSluiceTcp, tcpLoad } from "./lib/l4.js";
import { cleanup, groupCpuSeconds, stop } from "./lib/procs.js";
import { ROOT } from "./lib/servers.js";
import { freePorts, layout } from "./lib/system.js";
import { median } from "./lib/stats.js";
import os from "node:os";

const seconds = Number(process.argv[2] ?? 3);
const reps = Number(process.argv[3] ?? 3);
const sizes = (process.argv[4] ?? "64,256,1024").split(",").map((s) => Number(s) * 1024);
buildBenchTools(ROOT, (s) => console.error(s));
const lay = layout(os.availableParallelism());
const ports = await freePorts(1 + 2 * sizes.length, new Set());
const echo = await startEchoOrigin(ports[0]!, lay.origin);
const gws = [];
try {
  for (const [i, size] of sizes.entries()) {
    process.env.SLUICE_SPLICE_PIPE_SIZE = String(size);
    gws.push(await startSluiceTcp(`pipe-${size}`, ports[1 + 2 * i]!, ports[2 + 2 * i]!, ports[0]!, lay.proxy, ["--l4-relay", "thread"]));
  }
  for (const t of l4Tests(true)) {
    const runs: number[][] = sizes.map(() => []);
    const cpu: number[][] = sizes.map(() => []);
    for (let r = 0; r < reps; r++)
      for (let j = 0; j < sizes.length; j++) {
        const i = (j + r) % sizes.length;
        const c0 = groupCpuSeconds(gws[i]!.proc.pid);
        const res = await tcpLoad(gws[i]!.port, t, seconds, lay.load);
        const used = groupCpuSeconds(gws[i]!.proc.pid) - c0;
        runs[i]!.push(t.mode === "stream" ? res.bytesPerSec / 2 ** 20 : res.opsPerSec);
        // Proxy CPU per unit: ms per GiB (stream) or us per round trip (ping-pong).
        cpu[i]!.push(t.mode === "stream" ? (used * 1000) / ((res.bytesPerSec * res.seconds) / 2 ** 30) : (used * 1e6) / res.ops);
      }
    for (const [i, size] of sizes.entries())
      console.log(`${t.label} -c${t.conns}  pipe ${size / 1024} KiB: median ${median(runs[i]!).toFixed(0)} ${t.mode === "stream" ? "MiB/s" : "rt/s"}  runs ${runs[i]!.map((x) => x.toFixed(0)).join(", ")}; proxy CPU per unit median ${median(cpu[i]!).toFixed(1)} ${t.mode === "stream" ? "ms/GiB" : "us/rt"} (${cpu[i]!.map((x) => x.toFixed(1)).join(", ")})`);
  }
} finally {
  for (const g of gws) await stop(g.proc);
  await stop(echo.proc);
  await cleanup(); // the gateways' config folders
}
