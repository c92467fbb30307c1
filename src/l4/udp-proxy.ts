// One UDP listener. Each client address gets a session: a connected socket towards the backend
// chosen for it, kept while datagrams flow and closed after an idle timeout; backend replies go
// back to the client from the listening socket. The backend is chosen by a hash of the client
// address, so every worker sharing the port sends one client to the same backend. A client that
// gets no backend holds a refused session (its datagrams dropped) until idle, so it is counted and
// logged once per session rather than once per datagram.
import dgram from "node:dgram";
import net from "node:net";
import type { AccessLog } from "../observe/access-log.js";
import type { L4Result } from "../observe/l4-metrics.js";
import type { CompiledL4Listener, CompiledL4Route } from "./compile.js";
import { unitHash } from "./pick.js";
import { admitDatagram } from "../proxy/conn-policy.js";
import { logSession, newSession, type SessionInfo } from "./session-log.js";

export const UDP_IDLE_MS = 60_000;
/** Sessions beyond this are refused (their datagrams dropped) rather than growing without bound. */
const MAX_SESSIONS = 16_384;

interface Session {
  /** null: refused (no route or backend); its datagrams are dropped. */
  upstream: dgram.Socket | null;
  /** Listener state the session was decided with: a refused one is decided again after a swap. */
  decidedBy: CompiledL4Listener;
  route: CompiledL4Route | null;
  result: L4Result;
  info: SessionInfo;
  lastSeen: number;
  ready: boolean;
  queue: Buffer[];
  bytesIn: number;
  bytesOut: number;
}

export interface UdpOptions {
  idleMs?: number;
  log?: AccessLog | null;
}

export class UdpL4Server {
  private socket: dgram.Socket | null = null;
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly log: AccessLog | null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    public current: CompiledL4Listener,
    opts: UdpOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? UDP_IDLE_MS;
    this.log = opts.log ?? null;
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
    if (!admitDatagram(rinfo.address, this.current.port)) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = this.sessions.get(key);
    if (s !== undefined && s.upstream === null && s.decidedBy !== this.current) {
      this.drop(key, s);
      s = undefined;
    }
    if (s === undefined) {
      if (this.sessions.size >= MAX_SESSIONS) {
        this.current.stats.limit.n++;
        return;
      }
      s = this.open(key, rinfo);
    }
    s.lastSeen = Date.now();
    if (s.upstream === null) return;
    s.bytesIn += msg.length;
    s.route!.stats.bytesIn.n += msg.length;
    if (s.ready) s.upstream.send(msg);
    else if (s.queue.length < 64) s.queue.push(msg);
  }

  private open(key: string, client: dgram.RemoteInfo): Session {
    const l = this.current;
    const route = l.route;
    const s: Session = {
      upstream: null,
      decidedBy: l,
      route,
      result: "no_route",
      info: newSession("UDP", l.name, client.address, client.port, l.port),
      lastSeen: Date.now(),
      ready: false,
      queue: [],
      bytesIn: 0,
      bytesOut: 0,
    };
    this.sessions.set(key, s);
    if (route === null) {
      l.stats.noRoute.n++;
      return s;
    }
    s.info.route = route.name;
    const choice = route.picker.choose(unitHash(key), unitHash(key, 0x9e3779b9));
    if (choice === null) {
      s.result = "no_endpoint";
      route.stats.result("", "no_endpoint").n++;
      return s;
    }
    s.info.backend = choice.backend.name;
    const t = choice.target;
    const cells = choice.backend.cells;
    if (t === null || t.host === undefined) {
      s.result = choice.backend.name === null ? "unresolved" : "no_endpoint";
      if (cells) cells.refused.n++;
      return s;
    }
    const host = t.host;
    const port = t.port!;
    s.info.upstream = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    s.result = "ok";
    if (cells) cells.ok.n++;
    route.stats.udpSessions.n++;
    const upstream = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    s.upstream = upstream;
    upstream.on("error", () => this.drop(key, s));
    upstream.on("message", (reply) => {
      s.lastSeen = Date.now();
      s.bytesOut += reply.length;
      route.stats.bytesOut.n += reply.length;
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
    if (this.sessions.get(key) !== s) return;
    this.sessions.delete(key);
    if (s.upstream !== null) {
      s.route!.stats.udpSessions.n--;
      try {
        s.upstream.close();
      } catch {
        // already closed
      }
    }
    logSession(this.log, s.info, s.result, s.bytesIn, s.bytesOut);
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
