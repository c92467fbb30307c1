// IPC between the control process and L7 worker processes (node:cluster).
import type { Snapshot } from "../ir/types.js";
import type { SnapshotDelta } from "../proxy/snapshot-delta.js";
import type { FlowFilterSpec } from "../observe/flow-filter.js";
import type { FlowRecord } from "../observe/flow-record.js";

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
  /**
   * boosted (here and below): sent as part of a route change, with the worker put in the real-time
   * class; it leaves the class once it has reported the apply (src/control/change-boost.ts).
   */
  | { type: "snapshot"; snapshot: Snapshot; boosted?: true }
  /** The next snapshot as a difference from the one sent before (src/proxy/snapshot-delta.ts). */
  | { type: "snapshot-delta"; delta: SnapshotDelta; boosted?: true }
  | { type: "shutdown" }
  /** Flow stream (src/observe/flow-recorder.ts answers these in the worker): ship batches while on. */
  | { type: "flows-follow"; on: boolean }
  /** Asks for the last `limit` records of the worker's ring that match `filter`. */
  | { type: "flows-recent"; id: number; limit: number; filter: FlowFilterSpec };

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
  | { type: "ready" }
  /** A snapshot-delta whose base is not the worker's last snapshot: send the full one. */
  | { type: "resync"; version: number }
  /** A batch of flow records while the stream is followed; `lost` counts records dropped since the last batch. */
  | { type: "flows"; records: FlowRecord[]; lost: number }
  /** The answer to a flows-recent request. */
  | { type: "flows-recent"; id: number; records: FlowRecord[] };

export function isFromWorker(m: unknown): m is FromWorker {
  const t = typeof m === "object" && m !== null ? (m as { type?: unknown }).type : undefined;
  return t === "applied" || t === "apply-failed" || t === "ready" || t === "flows" || t === "flows-recent" || t === "resync";
}
