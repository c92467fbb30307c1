// The L7 worker processes (node:cluster). Each slot keeps one live worker: a worker that dies is
// forked again and brought up to date with init + the current snapshot.
import cluster, { type Worker } from "node:cluster";
import type { Snapshot } from "../ir/types.js";
import type { Logger } from "../observe/log.js";
import type { FlowFilterSpec } from "../observe/flow-filter.js";
import type { FlowRecord } from "../observe/flow-record.js";
import { makeDelta, type SnapshotDelta } from "../proxy/snapshot-delta.js";
import { addedNodeFlags } from "./node-flags.js";
import type { ChangeBoost } from "./change-boost.js";
import { isFromWorker, type FromWorker, type ListenerResult, type ToWorker, type WorkerInit } from "./messages.js";

/**
 * V8 flags for workers, ahead of node's own so that flags given to node win. Young-generation
 * collections run on the worker's thread alone: the parallel scavenger hands work to V8's helper
 * threads, which compete with the worker (and the other workers) for the same cores; when one of
 * them waits for a CPU, the worker's pause waits too. Measured on the bench layout (20 B, -c64, 1
 * worker, loaded machine): scavenge pauses median 0.38 -> 0.28 ms, p90 1.9 -> 0.44 ms, total pause
 * time per scavenge halved.
 */
function workerV8Flags(): string[] {
  // gc() for the collection after a large snapshot apply (src/proxy/heap-tidy.ts).
  const flags = ["--expose-gc"];
  // NODE_OPTIONS is read before the command line: a scavenger choice made there is left alone.
  if (!/scavenge|single-threaded-gc/.test(process.env.NODE_OPTIONS ?? "")) flags.push("--no-parallel-scavenge");
  // A proxied request allocates ~7 KB that dies young; while little survives V8 keeps the young
  // generation small, so under load it scavenged every 3-6 MB. 8 MB semi-spaces at least halve the
  // scavenges and their CPU per request; idle RSS grows ~1 MB (pages are touched only under load).
  if (!/semi-space/.test(process.env.NODE_OPTIONS ?? "")) flags.push("--min-semi-space-size=8");
  return flags;
}

/** node's flags for this process, less those `sluice run` gave the control process alone (node-flags.ts). */
function ownExecArgv(): string[] {
  const added = addedNodeFlags();
  return process.execArgv.filter((f) => !added.includes(f));
}

export interface WorkerState {
  /** Slot number, stable across restarts (1-based). */
  id: number;
  pid: number | null;
  /** Version of the last snapshot the worker applied (0: none yet). */
  version: number;
  /** When its report of applying `version` came in (epoch ms). */
  appliedAt?: number;
  listeners: ListenerResult[];
  /** Last apply failure, cleared by the next successful apply. */
  error?: string;
  restarts: number;
}

interface Slot {
  state: WorkerState;
  worker: Worker | null;
  forkTimer: NodeJS.Timeout | null;
  /** The worker said it listens ("ready"): messages sent before that are lost. */
  listening: boolean;
  startedAt: number;
  backoffMs: number;
  /** Hash of the last snapshot sent to this worker (a delta needs it as its base). */
  sentHash: string | null;
}

export interface WorkerPoolOptions {
  count: number;
  /** Absolute path of the worker entry module. */
  exec: string;
  init: WorkerInit;
  log: Logger;
  /** Called whenever a worker's state changes (applied, died, restarted). */
  onChange?: () => void;
  /** Flow record batches shipped by workers while the flow stream is followed. */
  onFlows?: (records: FlowRecord[], lost: number) => void;
  /** Real-time class for a worker while it applies a change (change-boost.ts). */
  boost?: Pick<ChangeBoost, "boostWorker" | "workerDone">;
}

const MAX_BACKOFF_MS = 5000;

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private current: Snapshot | null = null;
  private stopping = false;
  private flowFollow = false;
  private flowQueries = new Map<number, { waiting: Set<Worker>; records: FlowRecord[]; done: () => void }>();
  private nextFlowQuery = 1;

  constructor(private readonly opts: WorkerPoolOptions) {}

  start(): void {
    // Each worker accepts on the shared socket itself: round-robin through the primary would put
    // every connection through this process.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: this.opts.exec, args: [], execArgv: [...workerV8Flags(), ...ownExecArgv()] });
    for (let i = 0; i < this.opts.count; i++) {
      const slot: Slot = {
        state: { id: i + 1, pid: null, version: 0, listeners: [], restarts: 0 },
        worker: null,
        forkTimer: null,
        listening: false,
        startedAt: 0,
        backoffMs: 100,
        sentHash: null,
      };
      this.slots.push(slot);
      this.fork(slot);
    }
  }

  states(): WorkerState[] {
    return this.slots.map((s) => ({ ...s.state, listeners: [...s.state.listeners] }));
  }

  /**
   * Sends a new snapshot to every live worker: as a delta from the previous one to a worker that
   * has that one (made once, shared), else whole.
   */
  publish(snapshot: Snapshot): void {
    const prev = this.current;
    this.current = snapshot;
    let delta: SnapshotDelta | null | undefined;
    for (const slot of this.slots) {
      if (!this.canSend(slot)) continue;
      // A change: the worker applies it in the real-time class until it reports (change-boost.ts).
      const pid = slot.state.pid;
      const boosted = pid !== null && this.opts.boost?.boostWorker(pid) === true ? (true as const) : undefined;
      if (prev && slot.sentHash === prev.hash) {
        if (delta === undefined) delta = makeDelta(prev, snapshot);
        if (delta) {
          this.send(slot, boosted ? { type: "snapshot-delta", delta, boosted } : { type: "snapshot-delta", delta });
          slot.sentHash = snapshot.hash;
          continue;
        }
      }
      this.sendSnapshot(slot, boosted);
    }
  }

  /**
   * Builds the current snapshot's delta against itself a few times and throws it away, so the first
   * real change does not run makeDelta unoptimised (ConfigController.warmUp says why; at 5,000
   * routes a first delta took ~9 ms, later ones ~0.5 ms). For an idle moment after start.
   */
  warmUp(runs = 5): void {
    const s = this.current;
    if (s) for (let i = 0; i < runs; i++) makeDelta(s, s);
  }

  private canSend(slot: Slot): boolean {
    return slot.listening && slot.worker !== null && slot.worker.isConnected();
  }

  /** Flow stream: workers ship record batches while on (workers started later are told too). */
  setFlowFollow(on: boolean): void {
    this.flowFollow = on;
    for (const slot of this.slots) if (slot.listening) this.send(slot, { type: "flows-follow", on });
  }

  /** The last `limit` matching flow records of each live worker; a worker that does not answer in time is left out. */
  recentFlows(limit: number, filter: FlowFilterSpec, timeoutMs = 1000): Promise<FlowRecord[]> {
    const id = this.nextFlowQuery++;
    const live = this.slots.filter((s) => s.listening && s.worker?.isConnected());
    if (live.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const q = { waiting: new Set(live.map((s) => s.worker!)), records: [] as FlowRecord[], done: () => {} };
      const timer = setTimeout(() => q.done(), timeoutMs);
      q.done = () => {
        clearTimeout(timer);
        this.flowQueries.delete(id);
        resolve(q.records);
      };
      this.flowQueries.set(id, q);
      for (const s of live) this.send(s, { type: "flows-recent", id, limit, filter });
    });
  }

  private onFlowMessage(worker: Worker, m: Extract<FromWorker, { type: "flows" | "flows-recent" }>): void {
    if (m.type === "flows") {
      this.opts.onFlows?.(m.records, m.lost);
      return;
    }
    const q = this.flowQueries.get(m.id);
    if (!q || !q.waiting.delete(worker)) return;
    for (const r of m.records) q.records.push(r);
    if (q.waiting.size === 0) q.done();
  }

  private fork(slot: Slot): void {
    slot.forkTimer = null;
    if (this.stopping) return;
    const worker = cluster.fork({ SLUICE_WORKER_ID: String(slot.state.id) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.state.pid = worker.process.pid ?? null;
    slot.state.version = 0;
    delete slot.state.appliedAt;
    slot.state.listeners = [];
    delete slot.state.error;
    slot.listening = false;
    slot.sentHash = null;
    worker.on("message", (m: unknown) => {
      if (isFromWorker(m)) this.onMessage(slot, worker, m);
    });
    worker.on("error", (err) => this.opts.log.warn({ worker: slot.state.id, err: err.message }, "worker IPC error"));
    worker.once("exit", (code, signal) => this.onExit(slot, worker, code, signal));
    this.opts.log.info({ worker: slot.state.id, pid: slot.state.pid }, "worker started");
    this.opts.onChange?.();
  }

  private sendSnapshot(slot: Slot, boosted?: true): void {
    const snap = this.current;
    if (!snap || !this.canSend(slot)) return;
    this.send(slot, boosted ? { type: "snapshot", snapshot: snap, boosted } : { type: "snapshot", snapshot: snap });
    slot.sentHash = snap.hash;
  }

  private send(slot: Slot, msg: ToWorker): void {
    const w = slot.worker;
    if (!w || !w.isConnected()) return;
    try {
      w.send(msg);
    } catch (err) {
      this.opts.log.warn({ worker: slot.state.id, err: String(err) }, "could not send to worker");
    }
  }

  private onMessage(slot: Slot, worker: Worker, m: FromWorker): void {
    if (slot.worker !== worker) return;
    if (m.type === "flows" || m.type === "flows-recent") return this.onFlowMessage(worker, m);
    if ((m.type === "applied" || m.type === "apply-failed" || m.type === "resync") && slot.state.pid !== null) this.opts.boost?.workerDone(slot.state.pid);
    if (m.type === "resync") {
      this.opts.log.debug({ worker: slot.state.id, version: m.version }, "worker asked for the full snapshot");
      this.sendSnapshot(slot);
      return;
    }
    if (m.type === "ready") {
      if (slot.listening) return;
      slot.listening = true;
      this.send(slot, { type: "init", init: this.opts.init });
      this.sendSnapshot(slot);
      if (this.flowFollow) this.send(slot, { type: "flows-follow", on: true });
      return;
    }
    if (m.type === "applied") {
      if (m.version > slot.state.version) {
        slot.state.version = m.version;
        slot.state.appliedAt = Date.now();
      }
      slot.state.listeners = m.listeners;
      delete slot.state.error;
      const failed = m.listeners.filter((l) => !l.ok);
      if (failed.length > 0) this.opts.log.error({ worker: slot.state.id, version: m.version, failed }, "worker could not open some listeners");
      else this.opts.log.debug({ worker: slot.state.id, version: m.version }, "worker applied snapshot");
    } else {
      slot.state.error = m.error;
      this.opts.log.error({ worker: slot.state.id, version: m.version, error: m.error }, "worker rejected snapshot; it keeps its previous one");
    }
    this.opts.onChange?.();
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    if (slot.state.pid !== null) this.opts.boost?.workerDone(slot.state.pid);
    slot.state.pid = null;
    slot.state.version = 0;
    delete slot.state.appliedAt;
    slot.state.listeners = [];
    slot.listening = false;
    if (this.stopping) return;
    // Crash loops back off; a worker that lived a while restarts at once.
    if (Date.now() - slot.startedAt > 10_000) slot.backoffMs = 100;
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS);
    slot.state.restarts++;
    this.opts.log.error({ worker: slot.state.id, code, signal, restartInMs: delay }, "worker exited; restarting it");
    slot.forkTimer = setTimeout(() => this.fork(slot), delay);
    this.opts.onChange?.();
  }

  /** Asks every worker to shut down and waits (bounded) for them; kills the ones that do not exit. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    const waits: Promise<void>[] = [];
    for (const slot of this.slots) {
      if (slot.forkTimer) clearTimeout(slot.forkTimer);
      const w = slot.worker;
      if (!w || w.isDead()) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => {
            this.opts.log.warn({ worker: slot.state.id }, "worker did not stop in time; killing it");
            w.process.kill("SIGKILL");
          }, timeoutMs);
          w.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          if (w.isDead()) {
            clearTimeout(kill);
            resolve();
          }
        }),
      );
      // A worker still loading would miss the message; SIGTERM asks it the same thing.
      if (slot.listening) this.send(slot, { type: "shutdown" });
      else w.process.kill("SIGTERM");
    }
    await Promise.all(waits);
  }
}
