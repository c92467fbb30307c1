// Control-process side of the flow stream. Kernel events (published here by the eBPF manager)
// go into a bounded ring; L7/L4 records stay in each worker's own ring (flow-recorder.ts) and are
// fetched on demand, so the proxy pays no IPC unless someone follows the stream. While at least one
// subscriber is connected, the workers ship their records in batches and the hub fans every record
// out to the subscribers whose filter it matches.
import { compileFlowFilter, type FlowFilterSpec, type FlowPredicate } from "./flow-filter.js";
import type { FlowLost, FlowRecord } from "./flow-record.js";

/** What the hub needs from the worker pool. */
export interface WorkerFlows {
  /** Turn batch shipping on in every worker (and in workers started later), or off. */
  setFlowFollow(on: boolean): void;
  /** The last `limit` matching records of every worker (each worker's own ring), unsorted. */
  recentFlows(limit: number, filter: FlowFilterSpec): Promise<FlowRecord[]>;
}

export type FlowSink = (item: FlowRecord | FlowLost) => void;

interface Subscriber {
  match: FlowPredicate;
  sink: FlowSink;
}

export interface FlowHubStats {
  subscribers: number;
  /** Kernel records held in the control ring, and its size. */
  buffered: number;
  capacity: number;
  published: number;
  /** Records lost before they reached the hub, by where they were lost. */
  lost: Record<string, number>;
}

export const DEFAULT_FLOW_CAPACITY = 4096;

export class FlowHub {
  private readonly ring: (FlowRecord | undefined)[];
  private next = 0;
  private count = 0;
  private published = 0;
  private readonly lostBy: Record<string, number> = {};
  private readonly subs = new Set<Subscriber>();
  private workers: WorkerFlows | null = null;

  constructor(readonly capacity = DEFAULT_FLOW_CAPACITY) {
    this.ring = new Array<FlowRecord | undefined>(capacity);
  }

  attachWorkers(w: WorkerFlows): void {
    this.workers = w;
    if (this.subs.size > 0) w.setFlowFollow(true);
  }

  /** A record produced in the control process (kernel flow events): kept in the ring and streamed. */
  publish(r: FlowRecord): void {
    this.published++;
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.fanOut(r);
  }

  /** A batch shipped by a worker while someone follows (the worker keeps its own ring for recent()). */
  fromWorker(records: FlowRecord[], lost: number): void {
    for (const r of records) this.fanOut(r);
    if (lost > 0) this.lost("workers", lost);
  }

  /** Counts records lost upstream of the hub and tells the followers. */
  lost(where: string, count: number): void {
    if (count <= 0) return;
    this.lostBy[where] = (this.lostBy[where] ?? 0) + count;
    const line: FlowLost = { type: "lost", time: new Date().toISOString(), count, where };
    for (const s of this.subs) s.sink(line);
  }

  private fanOut(r: FlowRecord): void {
    for (const s of this.subs) if (s.match(r)) s.sink(r);
  }

  /** Live records matching the filter go to `sink` until the returned function is called. */
  subscribe(filter: FlowFilterSpec, sink: FlowSink): () => void {
    const s: Subscriber = { match: compileFlowFilter(filter), sink };
    this.subs.add(s);
    if (this.subs.size === 1) this.workers?.setFlowFollow(true);
    return () => {
      if (!this.subs.delete(s)) return;
      if (this.subs.size === 0) this.workers?.setFlowFollow(false);
    };
  }

  /** The last `limit` records matching the filter, kernel and workers merged, oldest first. */
  async recent(limit: number, filter: FlowFilterSpec = {}): Promise<FlowRecord[]> {
    if (limit <= 0) return [];
    const match = compileFlowFilter(filter);
    const mine: FlowRecord[] = [];
    for (let i = 1; i <= this.count && mine.length < limit; i++) {
      const r = this.ring[(this.next - i + this.capacity) % this.capacity]!;
      if (match(r)) mine.push(r);
    }
    const theirs = this.workers ? await this.workers.recentFlows(limit, filter) : [];
    const all = [...mine, ...theirs];
    // ISO times of one format compare as strings; the sort is stable for equal times.
    all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return all.slice(-limit);
  }

  stats(): FlowHubStats {
    return { subscribers: this.subs.size, buffered: this.count, capacity: this.capacity, published: this.published, lost: { ...this.lostBy } };
  }
}
