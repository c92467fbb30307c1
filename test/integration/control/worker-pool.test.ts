// The worker pool against a stand-in worker (a tiny script speaking the ToWorker/FromWorker
// messages): snapshots reach every worker, a dead worker is re-forked and caught up, stop leaves
// no process behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { WorkerPool } from "../../../src/control/worker-pool.js";
import type { Snapshot } from "../../../src/ir/types.js";

// Attaches its message listener late on purpose (as an ESM entry loading its imports does): what
// the pool sends before that is lost, which is why it says "ready" once it listens.
const FAKE_WORKER = `
setTimeout(() => {
  let init = null;
  process.on("message", (m) => {
    if (m.type === "init") init = m.init;
    if (m.type === "snapshot") {
      if (!init) process.send({ type: "apply-failed", version: m.snapshot.version, error: "no init" });
      else process.send({ type: "applied", version: m.snapshot.version, listeners: [] });
    }
    if (m.type === "snapshot-delta") process.send({ type: "applied", version: m.delta.version, listeners: [] });
    if (m.type === "shutdown") process.exit(0);
  });
  process.send({ type: "ready" });
}, 300);
`;

function snap(version: number): Snapshot {
  return { version, hash: String(version).padStart(64, "0"), config: { listeners: [], clusters: [] } };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(`worker pool: publish, re-fork after a crash, graceful stop`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-pool-"));
  const exec = join(dir, "worker.cjs");
  writeFileSync(exec, FAKE_WORKER);
  const pool = new WorkerPool({ count: 2, exec, init: { accessLog: "off" }, log: pino({ level: "silent" }) });
  try {
    pool.start();
    pool.publish(snap(1));
    await until(() => pool.states().every((w) => w.version === 1), 8000, "version 1 everywhere");
    pool.publish(snap(2));
    await until(() => pool.states().every((w) => w.version === 2), 5000, "version 2 everywhere");

    const victim = pool.states()[0]!;
    process.kill(victim.pid!, "SIGKILL");
    await until(() => pool.states()[0]!.pid !== victim.pid && pool.states()[0]!.version === 2, 8000, "re-forked worker at version 2");
    assert.equal(pool.states()[0]!.restarts, 1);
    assert.equal(pool.states()[0]!.id, 1);

    const pids = pool.states().map((w) => w.pid!);
    await pool.stop(3000);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} still running`);
  } finally {
    await pool.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});
