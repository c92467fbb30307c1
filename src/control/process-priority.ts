// The control process's scheduling priority. A route change costs the control process a few
// milliseconds of CPU (~8 ms at 5,000 routes); when the workers keep every core busy it got a
// worker's share of one, and a change took up to 52-56 ms to reach every worker (p90 34-39 ms) where
// nice -5 gave 33-41 ms (p90 27-29; bench/change-latency.ts --load, bench/RESULTS.md session 6). With a
// nice value below the workers' it runs first for those milliseconds. Linux nice values are per
// thread and a fork inherits the forking thread's, so workers go back to the value the gateway was
// started with (WORKER_NICE_ENV, read by restoreWorkerPriority()).
import os from "node:os";

export const DEFAULT_CONTROL_NICE = -5;
export const WORKER_NICE_ENV = "SLUICE_WORKER_NICE";

/** Gives the calling thread (the control process's main thread) `nice`. Returns null, or why it could not. */
export function setControlPriority(nice: number): string | null {
  const own = os.getPriority();
  // Workers forked from now on inherit `nice`: they read what to go back to from the environment.
  process.env[WORKER_NICE_ENV] = String(own);
  if (own === nice) return null;
  try {
    os.setPriority(nice);
    return null;
  } catch (err) {
    return `nice ${nice} refused (${(err as NodeJS.ErrnoException).code ?? String(err)}; a value below the current one needs CAP_SYS_NICE), staying at ${own}`;
  }
}

/** In a worker: back to the nice value the gateway was started with (raising a nice value is always allowed). */
export function restoreWorkerPriority(env: NodeJS.ProcessEnv = process.env): void {
  const want = Number(env[WORKER_NICE_ENV]);
  if (!Number.isInteger(want) || os.getPriority() === want) return;
  try {
    os.setPriority(want);
  } catch {
    // Only a value below the inherited one can be refused, and the control process never gives less.
  }
}
