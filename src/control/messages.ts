// IPC between the control process and L7 worker processes (node:cluster).
import type { Snapshot } from "../ir/types.js";

/** Options a worker needs from the command line; sent once, before the first snapshot. */
export interface WorkerInit {
  /** Address listeners bind to; undefined = all addresses, IPv4 and IPv6. */
  listenAddress?: string;
  /** "stdout", "off", or a file path. */
  accessLog: string;
  /** pino level for the worker's own logs (fatal|error|warn|info|debug|trace|silent); default info. */
  logLevel?: string;
}

export type ToWorker =
  | { type: "init"; init: WorkerInit }
  | { type: "snapshot"; snapshot: Snapshot }
  | { type: "shutdown" };

export interface ListenerResult {
  name: string;
  port: number;
  ok: boolean;
  error?: string;
}

export type FromWorker =
  | { type: "applied"; version: number; listeners: ListenerResult[] }
  | { type: "apply-failed"; version: number; error: string }
  /**
   * Sent once by the worker right after it installed its IPC message listener. IPC messages that
   * reach a process before it listens are dropped, and an ESM entry listens only after all its
   * imports loaded, so the control process sends init + snapshot only after this message.
   */
  | { type: "ready" };

export function isFromWorker(m: unknown): m is FromWorker {
  const t = typeof m === "object" && m !== null ? (m as { type?: unknown }).type : undefined;
  return t === "applied" || t === "apply-failed" || t === "ready";
}
