// The L4 data plane of one worker: keeps one TCP/TLS or UDP server per L4 listener of the snapshot.
// Listeners whose transport and port stay get the new compiled state in place (new connections use
// it, established ones keep theirs); removed ones stop accepting and drain.
import type { ListenerResult } from "../control/messages.js";
import type { IrConfig } from "../ir/types.js";
import type { AccessLog } from "../observe/access-log.js";
import { compileL4Listener, type CompiledL4Listener } from "./compile.js";
import { TcpL4Server } from "./tcp-proxy.js";
import { UdpL4Server } from "./udp-proxy.js";

export interface L4PlaneOptions {
  listenAddress?: string;
  /** Grace for established connections of a removed listener (default 10 s). */
  drainMs?: number;
  udpIdleMs?: number;
  /** One record per connection / UDP session, in the L7 access log. */
  log?: AccessLog | null;
}

type Server = TcpL4Server | UdpL4Server;

const keyOf = (l: CompiledL4Listener): string => `${l.protocol === "UDP" ? "udp" : "tcp"}/${l.port}`;

export class L4DataPlane {
  private readonly servers = new Map<string, Server>();

  constructor(private readonly opts: L4PlaneOptions = {}) {}

  /** Applies the L4 section of a snapshot config; compiles everything before touching a socket. */
  async apply(config: IrConfig): Promise<ListenerResult[]> {
    const next = (config.l4Listeners ?? []).map(compileL4Listener);
    const wanted = new Map(next.map((l) => [keyOf(l), l]));
    const closing: Promise<void>[] = [];
    for (const [key, srv] of this.servers) {
      if (!wanted.has(key)) {
        this.servers.delete(key);
        closing.push(srv instanceof TcpL4Server ? srv.close(this.opts.drainMs ?? 10_000) : srv.close());
      }
    }
    // Listening sockets close at once; a turn of the event loop lets the port be bound again.
    if (closing.length) await new Promise((r) => setImmediate(r));
    const results: ListenerResult[] = [];
    for (const l of next) {
      const key = keyOf(l);
      const existing = this.servers.get(key);
      if (existing) {
        existing.current = l;
        results.push({ name: l.name, port: l.port, ok: true });
        continue;
      }
      const log = this.opts.log ?? null;
      const srv: Server = l.protocol === "UDP" ? new UdpL4Server(l, { idleMs: this.opts.udpIdleMs, log }) : new TcpL4Server(l, { log });
      const err = await srv.listen(this.opts.listenAddress);
      if (err === null) {
        this.servers.set(key, srv);
        results.push({ name: l.name, port: l.port, ok: true });
      } else results.push({ name: l.name, port: l.port, ok: false, error: err });
    }
    return results;
  }

  boundKeys(): string[] {
    return [...this.servers.keys()].sort();
  }

  async close(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((s) => (s instanceof TcpL4Server ? s.close(this.opts.drainMs ?? 10_000) : s.close())));
  }
}
