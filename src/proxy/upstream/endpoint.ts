// One backend endpoint and its connections: an undici keep-alive Pool for HTTP/1.1, or a single
// HTTP/2 session for h2c clusters. Endpoints are shared across snapshots by key, so a reload does
// not drop warm connections; the registry closes the ones no snapshot uses any more.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { Pool } from "undici";
import type { IrEndpoint } from "../../ir/types.js";
import { H1Pool } from "./h1-pool.js";
import { undiciConnector, type UpstreamTls } from "./tls-connect.js";

export type UpstreamProtocol = "http1" | "h2c";

const POOL_CONNECTIONS = 256;

export class EndpointRuntime {
  /** "10.0.0.1:8080", "[::1]:80" or "unix:/path". */
  readonly label: string;
  readonly host: string | null;
  readonly port: number;
  readonly socketPath: string | null;
  private pool: Pool | null = null;
  private rawPool: H1Pool | null = null;
  private session: http2.ClientHttp2Session | null = null;
  closed = false;
  /** Requests in flight to this endpoint, across the clusters that share it (least request reads it). */
  active = 0;

  constructor(
    readonly key: string,
    ep: IrEndpoint,
    readonly protocol: UpstreamProtocol,
    /** TLS to this endpoint (BackendTLSPolicy), or null for plain text. */
    readonly tls: UpstreamTls | null = null,
  ) {
    if ("path" in ep) {
      this.socketPath = ep.path;
      this.host = null;
      this.port = 0;
      this.label = `unix:${ep.path}`;
    } else {
      this.socketPath = null;
      this.host = ep.address;
      this.port = ep.port;
      this.label = ep.address.includes(":") ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
    }
  }

  static keyOf(ep: IrEndpoint, protocol: UpstreamProtocol, tlsKey = ""): string {
    const base = "path" in ep ? `${protocol}|unix:${ep.path}` : `${protocol}|${ep.address}|${ep.port}`;
    return tlsKey === "" ? base : `${base}|tls:${tlsKey}`;
  }

  /** Origin used for undici and HTTP/2; unix sockets use a placeholder host. */
  private origin(): string {
    const scheme = this.tls !== null ? "https" : "http";
    return this.socketPath !== null ? `${scheme}://localhost` : `${scheme}://${this.label}`;
  }

  /** A new TLS connection to this endpoint (TLS clusters only). */
  connectTls(): tls.TLSSocket {
    const where = this.socketPath !== null ? { path: this.socketPath } : { host: this.host!, port: this.port };
    return tls.connect({ ...this.tls!.options, ...where });
  }

  h1(): Pool {
    let p = this.pool;
    if (p === null) {
      p = new Pool(this.origin(), {
        connections: POOL_CONNECTIONS,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        // The route's timeouts are enforced by the proxy; these only bound stuck sockets.
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
        ...(this.socketPath !== null ? { socketPath: this.socketPath } : {}),
        ...(this.tls !== null ? { connect: undiciConnector(this.tls, this.socketPath) } : {}),
      });
      this.pool = p;
    }
    return p;
  }

  /** Keep-alive connections for bodiless HTTP/1.1 requests (the common case), without undici. */
  raw(): H1Pool {
    let p = this.rawPool;
    if (p === null) {
      p = new H1Pool({ host: this.host, port: this.port, socketPath: this.socketPath, label: this.label, tls: this.tls?.options ?? null }, POOL_CONNECTIONS);
      this.rawPool = p;
    }
    return p;
  }

  /** The endpoint's HTTP/2 session, (re)connected on demand after GOAWAY, error or close. */
  h2(): http2.ClientHttp2Session {
    const s = this.session;
    if (s !== null && !s.closed && !s.destroyed) return s;
    const opts: http2.SecureClientSessionOptions = this.tls !== null ? { ...this.tls.options } : {};
    if (this.socketPath !== null) {
      const path = this.socketPath;
      opts.createConnection = this.tls !== null ? () => this.connectTls() : () => net.connect(path);
    }
    const session = http2.connect(this.origin(), opts);
    const drop = (): void => {
      if (this.session === session) this.session = null;
    };
    session.on("goaway", drop);
    session.on("close", drop);
    session.on("error", drop);
    // An idle session must not keep the worker alive on its own.
    session.unref();
    this.session = session;
    return session;
  }

  /** Graceful: lets requests in flight finish. */
  close(): Promise<void> {
    this.closed = true;
    const tasks: Promise<unknown>[] = [];
    if (this.pool) tasks.push(this.pool.close().catch(() => undefined));
    this.rawPool?.close();
    this.rawPool = null;
    const s = this.session;
    if (s && !s.closed) tasks.push(new Promise<void>((r) => s.close(() => r())));
    this.pool = null;
    this.session = null;
    return Promise.all(tasks).then(() => undefined);
  }

  destroy(): void {
    this.closed = true;
    this.pool?.destroy().catch(() => undefined);
    this.rawPool?.destroy();
    this.rawPool = null;
    this.session?.destroy();
    this.pool = null;
    this.session = null;
  }
}
