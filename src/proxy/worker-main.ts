// Entry of an L7 worker process (node:cluster): snapshots arrive over IPC, are applied with the
// data plane, and acknowledged. A failed apply leaves the previous snapshot serving.
import type { FromWorker, ToWorker } from "../control/messages.js";
import { ProxyDataPlane } from "./data-plane.js";

const DRAIN_MS = 10_000;

let plane: ProxyDataPlane | null = null;
let shuttingDown = false;

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
    case "snapshot": {
      const version = m.snapshot.version;
      // A snapshot before init still gets served, with defaults.
      plane ??= new ProxyDataPlane({ accessLog: "stdout", drainMs: DRAIN_MS });
      plane.apply(m.snapshot).then(
        (listeners) => send({ type: "applied", version, listeners }),
        (err: unknown) => send({ type: "apply-failed", version, error: err instanceof Error ? err.message : String(err) }),
      );
      break;
    }
    case "shutdown":
      void shutdown();
      break;
  }
}

process.on("message", onMessage);
process.on("SIGTERM", () => void shutdown());
// The control process going away ends the worker too.
process.on("disconnect", () => void shutdown());
