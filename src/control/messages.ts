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
  | { type: "apply-failed"; version: number; error: string };

export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === "object" && m !== null && ((m as { type?: unknown }).type === "applied" || (m as { type?: unknown }).type === "apply-failed");
}
