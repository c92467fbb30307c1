// Every process and temp folder the benchmark creates is registered here, so that a normal end,
// an error and Ctrl-C all leave nothing behind.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { note } from "./progress.js";

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last `keep` bytes (default 64 KiB) of stdout + stderr, for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** CPU list for taskset (e.g. "1" or "0-1"); the process and its children stay on it. */
  cpus?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How much of the output to keep (default 64 KiB). */
  keep?: number;
}

const live = new Set<Proc>();
const dirs = new Set<string>();
let cleaning: Promise<void> | null = null;

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `sluice-bench-${prefix}-`));
  dirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

/** Starts cmd (under taskset when cpus is given) in its own process group. */
export function start(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const [file, argv] = opts.cpus !== undefined ? ["taskset", ["-c", opts.cpus, cmd, ...args]] : [cmd, args];
  // detached: own process group, so workers a server forks can be killed with it.
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env, cwd: opts.cwd });
  let out = "";
  const limit = opts.keep ?? 65_536;
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > limit) out = out.slice(-limit);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const exited = new Promise<number | null>((r) => {
    child.once("exit", (code, signal) => r(code ?? (signal ? 128 : null)));
    child.once("error", () => r(-1));
  });
  const p: Proc = { name, child, pid: child.pid, output: () => out, exited };
  live.add(p);
  void exited.then(() => live.delete(p));
  return p;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process (it stops its own workers), then SIGKILL to its group after a grace period. */
export async function stop(p: Proc, graceMs = 5_000): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    try {
      process.kill(p.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    // A pending grace timer would keep the bench process alive for up to graceMs after its last line.
    clearTimeout(timer);
    // Said out loud: a server that ignores SIGTERM is a bug of its own, and costs the run graceMs.
    if (!exited) note(`${p.name} had not exited ${graceMs / 1000} s after SIGTERM: killed`);
  }
  // Whatever is left of the group (workers of a leader that did not stop them) is killed.
  for (let i = 0; i < 20 && groupAlive(p.pid); i++) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  live.delete(p);
}

export async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...live].map((p) => stop(p, 3_000)));
    for (const d of [...dirs]) removeTempDir(d);
  })();
  return cleaning;
}

/** Last resort on process exit: synchronous kills and removals. */
function cleanupSync(): void {
  for (const p of live) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export function installSignalHandlers(): void {
  process.on("exit", cleanupSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping every process the benchmark started…\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** Clock ticks per second of /proc's CPU times (USER_HZ on Linux). */
const USER_HZ = 100;

/** utime + stime (seconds) of every live process in the process group `pgid` (each Proc leads its own group). */
export function groupCpuSeconds(pgid: number): number {
  const t = groupCpuTimes(pgid);
  return t.user + t.system;
}

/** The fields of a /proc stat line after "(comm)", 0-based: [1] ppid, [2] pgrp, [11] utime, [12] stime (ticks). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Calls `each(pid, fields)` for every live process, with its stat fields (statFields); those that exit meanwhile are skipped. */
export function forEachProcess(each: (pid: string, f: string[]) => void): void {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      each(d, statFields(readFileSync(`/proc/${d}/stat`, "utf8")));
    } catch {
      continue; // exited meanwhile
    }
  }
}

/** utime and stime (seconds) apart, summed over the live processes of group `pgid`: the kernel's share (socket calls) moves with the machine's state more than the user share does. */
export function groupCpuTimes(pgid: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  forEachProcess((_, f) => {
    if (Number(f[2]) !== pgid) return;
    user += Number(f[11]) / USER_HZ;
    system += Number(f[12]) / USER_HZ;
  });
  return { user, system };
}

/** Calls `each(pid, tid)` for every thread of every process in process group `pgid`. */
function forGroupThreads(pgid: number, each: (pid: string, tid: string) => void): void {
  forEachProcess((pid, f) => {
    if (Number(f[2]) !== pgid) return;
    for (const t of readdirSync(`/proc/${pid}/task`)) each(pid, t);
  });
}

/**
 * CPU seconds (user + system) of the helper threads of process group `pgid`: every thread but each
 * process's main one. In a node process under load these are V8's (optimising compiler, concurrent
 * marking and sweeping); the libuv thread pool is idle on the proxying path.
 */
export function groupHelperCpu(pgid: number): number {
  let ticks = 0;
  forGroupThreads(pgid, (pid, tid) => {
    if (tid === pid) return;
    const f = statFields(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
    ticks += Number(f[11]) + Number(f[12]);
  });
  return ticks / USER_HZ;
}

/** Seconds the threads of process group `pgid` spent runnable and waiting for a CPU (schedstat field 2, ns). */
export function groupRunqueueWait(pgid: number): number {
  let ns = 0;
  forGroupThreads(pgid, (pid, tid) => {
    ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
  });
  return ns / 1e9;
}
