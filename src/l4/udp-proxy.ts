// One UDP listener. Each client address gets a session: a connected socket towards the backend
// chosen for it, kept while datagrams flow and closed after an idle timeout; backend replies go
// back to the client from the listening socket. The backend is chosen by a hash of the client
// address, so every worker sharing the port sends one client to the same backend.
import dgram from "node:dgram";
import net from "node:net";
import type { CompiledL4Listener } from "./compile.js";
import { unitHash } from "./pick.js";

export const UDP_IDLE_MS = 60_000;
/** Sessions beyond this are refused (their datagrams dropped) rather than growing without bound. */
const MAX_SESSIONS = 16_384;

interface Session {
  upstream: dgram.Socket;
  lastSeen: number;
  ready: boolean;
  queue: Buffer[];
}

export interface UdpOptions {
  idleMs?: number;
}

export class UdpL4Server {
  private socket: dgram.Socket | null = null;
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    public current: CompiledL4Listener,
    opts: UdpOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? UDP_IDLE_MS;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  listen(host: string | undefined): Promise<string | null> {
    const tryBind = (type: "udp4" | "udp6", address: string | undefined): Promise<string | null> =>
      new Promise((resolve) => {
        const s = dgram.createSocket({ type, ipv6Only: false });
        const onError = (err: Error): void => {
          s.close();
          resolve(err.message);
        };
        s.once("error", onError);
        // Non-exclusive: under node:cluster every worker shares the primary's socket for this port.
        s.bind({ port: this.current.port, address, exclusive: false }, () => {
          s.off("error", onError);
          s.on("error", (e: Error) => process.stderr.write(`sluice: l4 listener ${this.current.name}: ${e.message}\n`));
          s.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
          this.socket = s;
          resolve(null);
        });
      });
    const start = async (): Promise<string | null> => {
      if (host !== undefined) return tryBind(net.isIPv6(host) ? "udp6" : "udp4", host);
      // No address: dual-stack "::", falling back to IPv4 where IPv6 is missing.
      const err = await tryBind("udp6", "::");
      return err === null ? null : tryBind("udp4", "0.0.0.0");
    };
    return start().then((err) => {
      if (err === null) {
        this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(this.idleMs / 2, 5_000)));
        this.sweeper.unref();
      }
      return err;
    });
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = this.sessions.get(key);
    if (!s) {
      if (this.sessions.size >= MAX_SESSIONS) return;
      const created = this.open(key, rinfo);
      if (!created) return;
      s = created;
    }
    s.lastSeen = Date.now();
    if (s.ready) s.upstream.send(msg);
    else if (s.queue.length < 64) s.queue.push(msg);
  }

  private open(key: string, client: dgram.RemoteInfo): Session | null {
    const route = this.current.route;
    const choice = route?.picker.pick(unitHash(key), unitHash(key, 0x9e3779b9)) ?? null;
    if (!choice || choice.target.host === undefined) return null;
    const host = choice.target.host;
    const port = choice.target.port!;
    const upstream = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    const s: Session = { upstream, lastSeen: Date.now(), ready: false, queue: [] };
    this.sessions.set(key, s);
    upstream.on("error", () => this.drop(key, s));
    upstream.on("message", (reply) => {
      s.lastSeen = Date.now();
      this.socket?.send(reply, client.port, client.address);
    });
    // An exclusive ephemeral port per session: a shared (cluster) one would mix sessions' replies.
    upstream.bind({ port: 0, exclusive: true }, () => {
      upstream.connect(port, host, () => {
        s.ready = true;
        for (const m of s.queue) upstream.send(m);
        s.queue.length = 0;
      });
    });
    return s;
  }

  private drop(key: string, s: Session): void {
    if (this.sessions.get(key) === s) this.sessions.delete(key);
    try {
      s.upstream.close();
    } catch {
      // already closed
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [key, s] of this.sessions) if (s.lastSeen < cutoff) this.drop(key, s);
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const [key, s] of this.sessions) this.drop(key, s);
    const sock = this.socket;
    this.socket = null;
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
