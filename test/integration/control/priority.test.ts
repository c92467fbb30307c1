// The control process runs at --control-nice (default -5) so route changes do not wait behind busy
// workers; the workers keep the priority the gateway was started with.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import os from "node:os";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY } from "./fixtures.js";

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

test("--control-nice out of range is a usage error", async () => {
  const gw = await GatewayProcess.start({ files: {}, args: ["--control-nice=-21"], waitReady: false });
  assert.equal(await gw.exited, 2);
  assert.match(gw.stderr, /--control-nice must be .*-20.*19/);
  await gw.stop();
});
