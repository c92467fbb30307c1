// Drains the edge program's flow events (bpf/policy.bpf.c: ring buffer `flow_events`).
//
// For the eBPF manager — after EdgePolicy.load(), the flow maps live in that same object:
//   const reader = new FlowReader(
//     (name) => fdOfMapInTheLoadedObject(name),          // "flow_events", "flow_config", "flow_lost"
//     (e) => hub.publish(reader.record(e)),              // hub: the FlowHub runGateway creates
//     { ruleName: (slot) => ruleIdOfSlot(slot) },        // from policy.compiled().slots (id -> slot)
//   );
//   reader.start();        // turns flow events on in the kernel, starts draining
//   ...
//   await reader.stop();   // before the policy object is closed (turns them off again)
// The program emits nothing until start(): loading the policy alone costs no flow tracking.
//
// How it drains (as measured in DESIGN.md): the wait for data, epoll_wait on the ring's epoll fd,
// runs on a libuv worker thread through koffi's async call with a bounded timeout; the consume,
// which runs our callback for each event, happens on the main thread, copying each event into one
// reused Buffer before decoding it. ring_buffer__poll is never called through an async FFI call.
import { createRequire } from "node:module";
import type * as KoffiNs from "koffi";
import type { FlowRecord } from "../observe/flow-record.js";
import { childLog } from "../observe/log.js";
import { decodeFlowEvent, FLOW_EVENT_SIZE, kernelFlowRecord, monotonicToWallNs, type KernelFlowEvent } from "./flow-event.js";
import { BpfError, libbpf } from "./libbpf.js";
import { libc } from "../sys/libc.js";

type Koffi = typeof KoffiNs;
type Ptr = { readonly __ptr: unique symbol };
type Fn<R> = ((...args: unknown[]) => R) & { async: (...args: unknown[]) => void };
type Registered = ReturnType<Koffi["register"]>;

export const FLOW_MAPS = { events: "flow_events", config: "flow_config", lost: "flow_lost" } as const;

export interface FlowReaderOptions {
  /**
   * Drops of one 5-tuple are reported at most once per this many ms, each event carrying the
   * packets/bytes dropped since the previous one; 0 reports every dropped packet. Default 1000.
   */
  dropIntervalMs?: number;
  /** Upper bound of one wait for data, i.e. of how long stop() may take. Default 200 ms. */
  waitMs?: number;
  /** Rule id for a counter slot (the policy's compiled slots). */
  ruleName?: (slot: number) => string | undefined;
}

interface RingBinding {
  koffi: Koffi;
  proto: ReturnType<Koffi["proto"]>;
  ringNew: Fn<Ptr | null>;
  epollFd: Fn<number>;
  consume: Fn<number>;
  free: Fn<void>;
  epollWait: Fn<number>;
}

let binding: RingBinding | undefined;

function bind(): RingBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as Koffi;
  const lib = koffi.load("libbpf.so.1");
  // A prototype name is process-wide in koffi: declared once.
  const proto = koffi.proto("int sluice_ring_sample_fn(void *ctx, void *data, size_t size)");
  const f = <R>(l: typeof lib, decl: string) => l.func(decl) as unknown as Fn<R>;
  binding = {
    koffi,
    proto,
    ringNew: f(lib, "void *ring_buffer__new(int map_fd, sluice_ring_sample_fn *sample_cb, void *ctx, void *opts)"),
    epollFd: f(lib, "int ring_buffer__epoll_fd(void *rb)"),
    consume: f(lib, "int ring_buffer__consume(void *rb)"),
    free: f(lib, "void ring_buffer__free(void *rb)"),
    epollWait: libc().epoll_wait,
  };
  return binding;
}

export class FlowReader {
  private readonly log = childLog("ebpf-flows");
  private readonly fds: { events: number; config: number; lost: number };
  private readonly scratch = Buffer.alloc(FLOW_EVENT_SIZE);
  /** epoll_event is 12 bytes on x86-64 and 16 elsewhere: room for 4 of either. */
  private readonly epollEvents = Buffer.alloc(64);
  private rb: Ptr | null = null;
  private callback: Registered | null = null;
  private running = false;
  private inFlight: Promise<void> | null = null;
  private wallOffsetNs = 0n;
  private errors = 0;
  /** Events delivered to the callback so far. */
  events = 0;

  constructor(
    mapFd: (name: string) => number,
    private readonly onEvent: (e: KernelFlowEvent) => void,
    private readonly opts: FlowReaderOptions = {},
  ) {
    this.fds = { events: mapFd(FLOW_MAPS.events), config: mapFd(FLOW_MAPS.config), lost: mapFd(FLOW_MAPS.lost) };
  }

  /** Turns flow events on in the kernel and starts draining them. */
  start(): void {
    if (this.running) return;
    const b = bind();
    this.wallOffsetNs = monotonicToWallNs();
    this.callback = b.koffi.register(
      (_ctx: unknown, data: unknown, size: number) => {
        try {
          const n = Math.min(Number(size), FLOW_EVENT_SIZE);
          this.scratch.set(new Uint8Array(b.koffi.view(data, n)));
          if (n < FLOW_EVENT_SIZE) return 0; // not one of ours: skip rather than misread
          this.events++;
          this.onEvent(decodeFlowEvent(this.scratch));
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, "a flow event could not be handled");
        }
        return 0;
      },
      b.koffi.pointer(b.proto),
    );
    const cb = this.callback;
    const rb = b.ringNew(this.fds.events, cb, null, null);
    if (!rb) {
      b.koffi.unregister(cb);
      this.callback = null;
      throw new BpfError("ring_buffer__new", b.koffi.errno() || 1);
    }
    this.rb = rb;
    this.configure(true);
    this.running = true;
    this.inFlight = this.loop(b.epollFd(rb));
  }

  private configure(enabled: boolean): void {
    const v = Buffer.alloc(16);
    v.writeUInt32LE(enabled ? 1 : 0, 0);
    v.writeBigUInt64LE(BigInt(Math.max(0, Math.round(this.opts.dropIntervalMs ?? 1000))) * 1_000_000n, 8);
    libbpf().mapUpdate(this.fds.config, Buffer.alloc(4), v);
  }

  private async loop(epfd: number): Promise<void> {
    const b = bind();
    const waitMs = this.opts.waitMs ?? 200;
    while (this.running) {
      const rc = await new Promise<number>((resolve) => {
        b.epollWait.async(epfd, this.epollEvents, 4, waitMs, (err: unknown, r: number) => resolve(err ? -1 : r));
      });
      // Consume on the main thread, whatever woke us (data, timeout or a signal).
      this.drain();
      if (rc < 0) {
        // EINTR is harmless; anything persistent must not become a busy loop.
        if (++this.errors % 100 === 1) this.log.warn({ errno: b.koffi.errno() }, "waiting for flow events failed");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Runs the callback for every event in the ring now. Returns how many there were. */
  drain(): number {
    if (!this.rb) return 0;
    const n = bind().consume(this.rb);
    if (n < 0) this.log.warn({ err: new BpfError("ring_buffer__consume", -n).message }, "reading flow events failed");
    return Math.max(0, n);
  }

  /** Events the kernel could not put on the ring (it was full), summed over CPUs. */
  lost(): number {
    const b = libbpf();
    const cpus = b.possibleCpus();
    const v = Buffer.alloc(8 * cpus);
    if (!b.mapLookup(this.fds.lost, Buffer.alloc(4), v)) return 0;
    let sum = 0n;
    for (let i = 0; i < cpus; i++) sum += v.readBigUInt64LE(i * 8);
    return Number(sum);
  }

  /** The flow-stream record of an event (wall-clock time, rule name). */
  record(e: KernelFlowEvent): FlowRecord {
    return kernelFlowRecord(e, { wallOffsetNs: this.wallOffsetNs, ruleName: this.opts.ruleName });
  }

  /** Turns flow events off, delivers what is still in the ring, and frees the reader. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    try {
      this.configure(false);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "turning flow events off failed");
    }
    // The wait in flight returns within waitMs; the ring must outlive it.
    await this.inFlight;
    this.inFlight = null;
    this.drain();
    const b = bind();
    if (this.rb) b.free(this.rb);
    this.rb = null;
    if (this.callback) b.koffi.unregister(this.callback);
    this.callback = null;
  }
}
