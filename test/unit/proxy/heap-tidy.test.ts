// The worker's collection after large applies: once, after the wait, and not while busy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { HeapTidy } from "../../../src/proxy/heap-tidy.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("collects once after the last of several large applies", async () => {
  let calls = 0;
  const t = new HeapTidy({ delayMs: 60, passes: 1, collect: () => void calls++ });
  t.schedule();
  await sleep(30);
  t.schedule(); // the wait starts again
  await sleep(45);
  assert.equal(calls, 0);
  await sleep(60);
  assert.equal(calls, 1);
  await sleep(100);
  assert.equal(calls, 1, "nothing more until the next large apply");
  t.stop();
});

test("two passes, the second after the gap", async () => {
  const at: number[] = [];
  const t0 = Date.now();
  const t = new HeapTidy({ delayMs: 40, gapMs: 80, collect: () => void at.push(Date.now() - t0) });
  t.schedule();
  await sleep(250);
  assert.equal(at.length, 2);
  assert.ok(at[0]! >= 35 && at[1]! - at[0]! >= 75, `collections at ${at.join(", ")} ms`);
  t.stop();
});

test("a busy event loop postpones, and gives up after the given tries", async () => {
  let calls = 0;
  const t = new HeapTidy({ delayMs: 40, busy: 0.5, tries: 2, collect: () => void calls++ });
  t.schedule();
  // Keep the loop busy through both waits.
  const end = Date.now() + 150;
  while (Date.now() < end) {
    const spin = Date.now() + 9;
    while (Date.now() < spin);
    await sleep(1);
  }
  await sleep(60);
  assert.equal(calls, 0);
  t.stop();
});

/** Keeps the event loop busy for `ms` (9 ms spins, 1 ms breaks). */
async function busyFor(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const spin = Date.now() + 9;
    while (Date.now() < spin);
    await sleep(1);
  }
}

test("until traffic: an idle wait collects (both passes)", async () => {
  let calls = 0;
  const t = new HeapTidy({ delayMs: 200, gapMs: 20, collect: () => void calls++ });
  t.schedule(true);
  await sleep(400);
  assert.equal(calls, 2);
  t.stop();
});

test("until traffic: work during the wait cancels the collection, with no retry", async () => {
  let calls = 0;
  // busy 0.9: the ordinary rule would have collected after this wait (the loop is ~50% busy).
  const t = new HeapTidy({ delayMs: 60, busy: 0.9, tries: 5, collect: () => void calls++ });
  t.schedule(true);
  await sleep(20);
  await busyFor(20);
  await sleep(300);
  assert.equal(calls, 0);
  t.stop();
});

// In a process of its own: whether gc() exists depends on how node was started.
function fullGcIn(flags: string[]): string {
  const script = `
    import { fullGc } from ${JSON.stringify(new URL("../../../src/proxy/heap-tidy.ts", import.meta.url).href)};
    const gc = fullGc();
    if (gc === null) { console.log("none"); process.exit(0); }
    let junk = Array.from({ length: 200000 }, (_, i) => ({ i, s: String(i) }));
    gc();
    const before = process.memoryUsage().heapUsed;
    if (junk.length === 0) throw new Error("unreachable");
    junk = null;
    gc();
    console.log(process.memoryUsage().heapUsed < before - 5 * 1024 * 1024 ? "freed" : "kept");
  `;
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000, env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("with --expose-gc (as workers start), fullGc() is V8's collection and frees garbage", () => {
  assert.equal(fullGcIn(["--expose-gc"]), "freed");
});

test("without --expose-gc, fullGc() is null and the tidy does nothing", () => {
  assert.equal(fullGcIn([]), "none");
});
