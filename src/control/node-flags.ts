// V8 flags the control process of `sluice run` needs and only node's own command line can set:
// NODE_OPTIONS refuses them, and v8.setFlagsFromString() comes after the heap they configure is set
// up. When they are missing, the process replaces itself with node given them (execve: same pid,
// stdio, environment and arguments), so `node bin/sluice run`, the `sluice` executable and a service
// manager's unit all run the gateway the same way.
//
// --no-memory-reducer: when the control process goes idle, V8's memory reducer runs a few
// memory-reducing full collections, and the optimised code of the route-change path is thrown away
// with them (traced: "weak objects" deoptimisations of translate and its helpers), so the first
// changes after an idle spell ran unoptimised. At 5,000 routes after 30 s idle, the first change
// took 35-47 ms with the reducer and 18-30 ms without (5 interleaved pairs; bench/RESULTS.md,
// session 6). Its price is memory the reducer would have returned (measured there too). The
// workers keep node's default.
//
// --no-parallel-scavenge: young-generation collections on the main thread alone, as the workers have
// them (worker-pool.ts). During a route change the main thread runs in the real-time class
// (change-boost.ts) and V8's helper threads do not: a parallel scavenge then waited for helpers that
// waited for a CPU. Scavenges during changes at 5,000 routes under load, 3 runs each: p90 pause
// 3.6-4.9 -> 1.6-1.9 ms, median 1.2-2.3 -> 1.1-1.2 ms (bench/RESULTS.md, session 13).
import { F_SETFD, libc } from "../sys/libc.js";

export const CONTROL_NODE_FLAGS: readonly string[] = ["--no-memory-reducer", "--no-parallel-scavenge"];

/**
 * Set in the new process's environment (to the flags added), so it never tries again; set it to
 * "off" beforehand to run with node's defaults.
 */
export const NODE_FLAGS_ENV = "SLUICE_NODE_FLAGS";

/** The flags reexecWithNodeFlags() added to this process (a cluster worker inherits execArgv, and these are not for it). */
export function addedNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const mark = env[NODE_FLAGS_ENV];
  return mark === undefined || mark === "off" ? [] : mark.split(" ").filter(Boolean);
}

export function missingNodeFlags(wanted: readonly string[], execArgv: readonly string[] = process.execArgv): string[] {
  return wanted.filter((f) => !execArgv.includes(f));
}

/**
 * Re-executes node with `wanted` added in front of its own flags, unless they are all there or
 * NODE_FLAGS_ENV is set. Returns only when it did not (null: nothing to do; else why not), so the
 * caller runs on as it is.
 */
export function reexecWithNodeFlags(wanted: readonly string[] = CONTROL_NODE_FLAGS): string | null {
  const missing = missingNodeFlags(wanted);
  if (missing.length === 0) return null;
  const mark = process.env[NODE_FLAGS_ENV];
  if (mark === "off") return null;
  if (mark !== undefined) return `node did not take ${missing.join(" ")}`;
  let c;
  try {
    c = libc();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  // libuv marks the stdio descriptors it opened close-on-exec; the new process needs them.
  for (const fd of [0, 1, 2]) c.fcntl(fd, F_SETFD, 0);
  const argv = [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)];
  const env = Object.entries({ ...process.env, [NODE_FLAGS_ENV]: missing.join(" ") }).map(([k, v]) => `${k}=${v ?? ""}`);
  c.execve(process.execPath, [...argv, null], [...env, null]);
  return `execve failed (errno ${c.errno()})`;
}
