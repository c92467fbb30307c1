// worker-main.ts in a child process over real IPC, for the tests that drive a worker as the
// control process does.
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import type { FromWorker, ToWorker } from "../../../src/control/messages.js";
import { ROOT } from "../../helpers/gateway.js";

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<unknown[]>;
  /** The next message, in order (fails after 15 s without one). */
  waitMsg: () => Promise<FromWorker>;
  send: (m: ToWorker) => void;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
}

/** Forks the worker; `nodeFlags` go after tsx's loader (e.g. V8 trace flags). */
export function forkWorker(nodeFlags: string[] = []): WorkerProcess {
  const child = fork(join(ROOT, "src/proxy/worker-main.ts"), [], { execArgv: ["--import", "tsx", ...nodeFlags], stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const exited = once(child, "exit");
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const messages: FromWorker[] = [];
  child.on("message", (m) => messages.push(m as FromWorker));
  const waitMsg = async (): Promise<FromWorker> => {
    const deadline = Date.now() + 15_000;
    while (messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const m = messages.shift();
    assert.ok(m, "no message from worker");
    return m;
  };
  return { child, exited, waitMsg, send: (m) => void child.send(m), output: () => out };
}
