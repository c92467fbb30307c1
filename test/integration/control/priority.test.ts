// The control process runs at --control-nice (default -5) so route changes do not wait behind busy
// workers; the workers keep the priority the gateway was started with.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import os from "node:os";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE } from "./fixtures.js";

/** The nice value of a process's main thread (field 19 of /proc/PID/stat). */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

const privileged = process.getuid?.() === 0;

test("the control process runs at --control-nice, its workers at the gateway's own nice value", { skip: privileged ? false : "lowering a nice value needs root (CAP_SYS_NICE)" }, async () => {
  const own = os.getPriority();
  const files = { "gw.yaml": CLASS_AND_GATEWAY(await freePort()) };
  for (const [args, control] of [[[], -5], [["--control-nice=-2"], -2], [[`--control-nice=${own}`], own]] as [string[], number][]) {
    const gw = await GatewayProcess.start({ files, workers: 2, args });
    try {
      assert.equal(niceOf(gw.proc.pid!), control, `control with ${args.join(" ") || "defaults"}`);
      const workers = (await gw.readyState())!.workers ?? [];
      assert.equal(workers.length, 2);
      for (const w of workers) assert.equal(niceOf(w.pid!), own, `worker ${w.pid} with ${args.join(" ") || "defaults"}`);
    } finally {
      await gw.stop();
    }
  }
});

/** The scheduling policy of a process's main thread (0 normal, 2 SCHED_RR), from /proc/PID/sched. */
function policyOf(pid: number): number {
  const m = /^policy\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/sched`, "utf8"));
  assert.ok(m, `no policy line for ${pid}`);
  return Number(m[1]);
}

const BACK_TO_NORMAL = "route change: back to the normal scheduling class";

test("a route change runs in the real-time class, control process and both workers, and every thread is back to normal once it is served", { skip: privileged ? false : "the real-time class needs root (CAP_SYS_NICE)" }, async () => {
  const route = (k: number): string => ROUTE({ name: "r", path: `/v${k}`, backends: [{ name: "b", port: 9 }] });
  // A route from the start: changes to it travel as deltas (a whole snapshot is never boosted).
  const files = { "gw.yaml": CLASS_AND_GATEWAY(await freePort()), "backend.yaml": BACKEND("b", 9), "route.yaml": route(0) };
  for (const [args, boosted] of [[[], true], [["--no-realtime-changes"], false]] as [string[], boolean][]) {
    const gw = await GatewayProcess.start({ files, workers: 2, args: ["--log-level", "debug", ...args] });
    try {
      const pids = [gw.proc.pid!, ...((await gw.readyState())!.workers ?? []).map((w) => w.pid!)];
      assert.equal(pids.length, 3);
      for (let k = 1; k <= 3; k++) {
        const before = (await gw.readyState())!.version;
        gw.write("route.yaml", route(k));
        await gw.waitReady(before + 1);
        // The control thread leaves when the last report is in; give its log line a moment.
        const end = Date.now() + 2000;
        while (boosted && gw.stderr.split(BACK_TO_NORMAL).length - 1 < k && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        for (const pid of pids) assert.equal(policyOf(pid), 0, `pid ${pid} after change ${k} with ${args.join(" ") || "defaults"}`);
      }
      const lines = gw.stderr.split("\n").filter((l) => l.includes(BACK_TO_NORMAL)).map((l) => JSON.parse(l) as { workers: number; ms: number });
      if (boosted) {
        assert.equal(lines.length, 3, gw.stderr);
        for (const l of lines) assert.equal(l.workers, 2, JSON.stringify(lines));
        for (const l of lines) assert.ok(l.ms >= 0 && l.ms < 1000, JSON.stringify(l));
      } else {
        assert.deepEqual(lines, []);
      }
    } finally {
      await gw.stop();
    }
  }
});

test("--control-nice out of range is a usage error", async () => {
  const gw = await GatewayProcess.start({ files: {}, args: ["--control-nice=-21"], waitReady: false });
  assert.equal(await gw.exited, 2);
  assert.match(gw.stderr, /--control-nice must be .*-20.*19/);
  await gw.stop();
});
