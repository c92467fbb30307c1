// Entry of an L7 worker process (node:cluster): snapshots arrive over IPC, are applied with the
// data plane, and acknowledged. A failed apply leaves the previous snapshot serving.
import { AggregatorRegistry, collectDefaultMetrics, register } from "prom-client";
import type { FromWorker, ListenerResult, ToWorker } from "../control/messages.js";
import { restoreWorkerPriority } from "../control/process-priority.js";
import type { Snapshot } from "../ir/types.js";
import { NeedsFullSnapshot } from "./compile.js";
import { ProxyDataPlane, sampleVhost } from "./data-plane.js";
import { HeapTidy } from "./heap-tidy.js";
import { applyDelta } from "./snapshot-delta.js";
import { setRealtime } from "../sys/realtime.js";

// Forked from the control process's main thread, whose priority was raised (process-priority.ts).
restoreWorkerPriority();
// prom-client answers the control process's metrics requests only in workers that built one.
new AggregatorRegistry();
// Node's own metrics (event-loop delay, GC pauses, heap, CPU time, memory): a worker that stalls shows
// it here. The control process sums or takes the max over workers as prom-client defines per metric.
collectDefaultMetrics({ register });

const DRAIN_MS = 10_000;
/** An apply that compiled this many virtual hosts leaves enough garbage to collect (heap-tidy.ts). */
const LARGE_APPLY_VHOSTS = 500;
const tidy = new HeapTidy();
/** Runs of the delta path after the first snapshot (ProxyDataPlane.rehearse), once per worker. */
const REHEARSALS = 5;
let rehearsed = false;

let plane: ProxyDataPlane | null = null;
let shuttingDown = false;
/** The last snapshot applied, so a re-sent snapshot is acknowledged without re-applying. */
let last: { version: number; hash: string; listeners: ListenerResult[] } | null = null;
/**
 * The last snapshot received (full, or rebuilt from a delta): the base of the next delta. Once
 * applied it is swapped for its compact form (compiled virtual hosts in place of their routes).
 */
let received: Snapshot | null = null;

function send(m: FromWorker): void {
  if (process.send && process.connected) process.send(m);
}

// Errors escaping a request handler must not take the worker (and every other request) down.
process.on("uncaughtException", (err) => {
  process.stderr.write(`sluice worker ${process.pid}: uncaught: ${err?.stack ?? String(err)}\n`);
});
process.on("unhandledRejection", (err) => {
  process.stderr.write(`sluice worker ${process.pid}: unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`);
});

async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  tidy.stop();
  const hard = setTimeout(() => process.exit(0), DRAIN_MS + 2_000);
  hard.unref();
  try {
    await plane?.close();
  } finally {
    process.exit(0);
  }
}

function onMessage(raw: unknown): void {
  const m = raw as ToWorker;
  if (!m || typeof m !== "object") return;
  switch (m.type) {
    case "init":
      plane ??= new ProxyDataPlane({ listenAddress: m.init.listenAddress, accessLog: m.init.accessLog, drainMs: DRAIN_MS });
      break;
    case "snapshot-delta": {
      // Rebuilt against the last snapshot received (applies run in order, so that is the base
      // the control process assumed); any mismatch gets the full snapshot instead.
      let snapshot: Snapshot;
      const reported = m.boosted ? leaveRealtime : null;
      try {
        if (!received) throw new Error("no snapshot yet");
        snapshot = applyDelta(received, m.delta);
      } catch {
        send({ type: "resync", version: m.delta.version });
        reported?.();
        break;
      }
      applySnapshot(snapshot, false, reported);
      break;
    }
    case "snapshot":
      applySnapshot(m.snapshot, true, m.boosted ? leaveRealtime : null);
      break;
    case "shutdown":
      void shutdown();
      break;
  }
}

function vhostCount(snapshot: Snapshot): number {
  let n = 0;
  for (const l of snapshot.config.listeners) for (const g of l.gatewayListeners) n += g.virtualHosts.length;
  return n;
}

/** A change was sent in the real-time class (src/control/change-boost.ts): back to normal once reported. */
function leaveRealtime(): void {
  setRealtime(0, false);
}

/** `reported`: run right after the report is sent. */
function applySnapshot(snapshot: Snapshot, whole: boolean, reported: (() => void) | null): void {
  const { version, hash } = snapshot;
  if (last && last.version === version && last.hash === hash) {
    // Already serving it: the compact base of this version, if that is what we hold, stays.
    if (received?.version !== version || received.hash !== hash) received = snapshot;
    send({ type: "applied", version, listeners: last.listeners });
    reported?.();
    return;
  }
  received = snapshot;
  // A snapshot before init still gets served, with defaults.
  plane ??= new ProxyDataPlane({ accessLog: "stdout", drainMs: DRAIN_MS });
  const p = plane;
  p.apply(snapshot).then(
    (listeners) => {
      last = { version, hash, listeners };
      // Unless a newer snapshot arrived meanwhile (it may still share this one's IR objects).
      if (received === snapshot) received = p.deltaBase(snapshot) ?? snapshot;
      send({ type: "applied", version, listeners });
      reported?.();
      // The first snapshot came whole; the next ones come as deltas, through code not run yet.
      const base = received;
      if (!rehearsed && base !== null && base !== snapshot) {
        rehearsed = true;
        void p.rehearse(base, REHEARSALS, sampleVhost(snapshot));
      }
      // A large apply leaves MiBs of garbage; a small whole snapshot (a start with few routes)
      // is worth collecting only before traffic has made code hot (heap-tidy.ts).
      if (p.compiledVhosts >= LARGE_APPLY_VHOSTS || (whole && vhostCount(snapshot) >= LARGE_APPLY_VHOSTS)) tidy.schedule();
      else if (whole) tidy.schedule(true);
    },
    (err: unknown) => {
      if (err instanceof NeedsFullSnapshot) {
        // The delta referred to a compiled virtual host this worker cannot reuse: the full
        // snapshot replaces it (the previous snapshot keeps serving until then).
        if (received === snapshot) received = null;
        send({ type: "resync", version });
        reported?.();
        return;
      }
      send({ type: "apply-failed", version, error: err instanceof Error ? err.message : String(err) });
      reported?.();
    },
  );
}

process.on("message", onMessage);
// Messages sent before this listener existed are lost, so the control process waits for this.
send({ type: "ready" });
process.on("SIGTERM", () => void shutdown());
// The control process going away ends the worker too.
process.on("disconnect", () => void shutdown());
