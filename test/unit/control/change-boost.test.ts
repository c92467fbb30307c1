import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { ChangeBoost } from "../../../src/control/change-boost.js";

interface Rig {
  boost: ChangeBoost;
  /** Every class change asked for, as "tid:on|off". */
  calls: string[];
  logs: { level: number; msg: string; ms?: number; workers?: number; problem?: string }[];
  settled: { value: boolean };
}

function rig(opts: { enabled?: boolean; refuse?: (tid: number, on: boolean) => string | null; limitMs?: number } = {}): Rig {
  const calls: string[] = [];
  const logs: Rig["logs"] = [];
  const settled = { value: true };
  const log = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line) as Rig["logs"][number]) });
  const boost = new ChangeBoost({
    enabled: opts.enabled ?? true,
    set: (tid, on) => {
      calls.push(`${tid}:${on ? "on" : "off"}`);
      return opts.refuse?.(tid, on) ?? null;
    },
    workersSettled: () => settled.value,
    log,
    ...(opts.limitMs !== undefined ? { limitMs: opts.limitMs } : {}),
  });
  return { boost, calls, logs, settled };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test("a change: the control thread enters at the watch event and leaves once the provider is done and every worker serves it", async () => {
  const { boost, calls, logs, settled } = rig();
  boost.providerBusy(true);
  assert.deepEqual(calls, ["0:on"]);
  boost.providerBusy(true); // a second event of the same burst
  assert.deepEqual(calls, ["0:on"]);
  assert.equal(boost.boostWorker(101), true);
  assert.equal(boost.boostWorker(102), true);
  assert.equal(boost.boostWorker(101), false, "a worker already boosted is not boosted twice");
  settled.value = false;
  boost.providerBusy(false);
  assert.deepEqual(calls, ["0:on", "101:on", "102:on"], "workers still applying: the control thread stays");
  boost.workerDone(101);
  boost.workersChanged();
  await turn();
  assert.deepEqual(calls, ["0:on", "101:on", "102:on", "101:off"]);
  boost.workerDone(102);
  settled.value = true;
  boost.workersChanged();
  // Promise callbacks of this turn (the /ready answers) still run real-time; the thread leaves after.
  await Promise.resolve();
  assert.deepEqual(calls, ["0:on", "101:on", "102:on", "101:off", "102:off"]);
  await turn();
  assert.deepEqual(calls, ["0:on", "101:on", "102:on", "101:off", "102:off", "0:off"]);
  const done = logs.find((l) => l.msg === "route change: back to the normal scheduling class");
  assert.equal(done?.workers, 2);
  assert.equal(typeof done?.ms, "number");
  // Leaving again, or reporting a worker twice, asks for nothing more.
  boost.workersChanged();
  boost.workerDone(102);
  await turn();
  assert.equal(calls.length, 6);
});

test("a watch event that changes nothing ends the boost when the provider is done", () => {
  const { boost, calls } = rig();
  boost.providerBusy(true);
  boost.providerBusy(false);
  assert.deepEqual(calls, ["0:on", "0:off"]);
});

test("workers are boosted only while the control thread is (a whole snapshot after a restart is not)", () => {
  const { boost, calls } = rig();
  assert.equal(boost.boostWorker(7), false);
  assert.deepEqual(calls, []);
});

test("turned off: nothing changes class", () => {
  const { boost, calls } = rig({ enabled: false });
  boost.providerBusy(true);
  assert.equal(boost.boostWorker(7), false);
  boost.providerBusy(false);
  assert.deepEqual(calls, []);
});

test("refused (no CAP_SYS_NICE): said once, then never asked again", () => {
  const { boost, calls, logs } = rig({ refuse: (tid, on) => (tid === 0 && on ? "sched_setscheduler: EPERM (1)" : null) });
  boost.providerBusy(true);
  assert.equal(boost.boostWorker(7), false);
  boost.providerBusy(false);
  boost.providerBusy(true);
  boost.providerBusy(false);
  assert.deepEqual(calls, ["0:on"]);
  const said = logs.filter((l) => /normal scheduling class: the real-time class was refused/.test(l.msg));
  assert.equal(said.length, 1);
  assert.equal(said[0]!.level, 30);
  assert.match(said[0]!.problem ?? "", /EPERM/);
});

test("a worker that does not report, and a control thread whose change never settles, are put back after the limit", async () => {
  const { boost, calls, settled } = rig({ limitMs: 30 });
  settled.value = false;
  boost.providerBusy(true);
  assert.equal(boost.boostWorker(9), true);
  boost.providerBusy(false);
  await sleep(80);
  assert.deepEqual([...calls].sort(), ["0:off", "0:on", "9:off", "9:on"]);
  // After the limit a new change boosts again.
  boost.providerBusy(true);
  assert.equal(calls.at(-1), "0:on");
  boost.stop();
  assert.equal(calls.at(-1), "0:off");
});

test("stop() puts every boosted thread back", () => {
  const { boost, calls, settled } = rig();
  settled.value = false;
  boost.providerBusy(true);
  boost.boostWorker(5);
  boost.stop();
  assert.deepEqual(calls, ["0:on", "5:on", "5:off", "0:off"]);
});
