// One backend endpoint and its connections: an undici keep-alive Pool for HTTP/1.1, or a single
// HTTP/2 session for h2c clusters. Endpoints are shared across snapshots by key, so a reload does
// not drop warm connections; the registry closes the ones no snapshot uses any more.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { Pool } from "undici";
import type { IrEndpoint, IrUpstreamConnection } from "../../ir/types.js";
import { ConnectTimeoutError, H1Pool } from "./h1-pool.js";
import { undiciConnector, type UpstreamTls } from "./tls-connect.js";

export type UpstreamProtocol = "http1" | "h2c";

/**
 * Connections per endpoint and worker: no cap of its own. A fixed pool size is a hidden limit that
 * queues requests to a slow backend; the only connection limit is the cluster's circuit breaker
 * (BackendTrafficPolicy circuitBreaker.maxConnections), off by default.
 */
const POOL_CONNECTIONS = Infinity;
/** Connection defaults (BackendTrafficPolicy timeout overrides them per cluster). */
const DEFAULT_CONNECT_MS = 10_000;
/** Below the usual server keep-alive timeouts (node 5 s), so the server rarely closes first. */
const DEFAULT_IDLE_MS = 4_000;
/** What "no idle timeout" (0) becomes for timers. */
const NEVER_MS = 2 ** 31 - 1;

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
  /** Connection establishment bound (0: none but the request's own timeouts). */
  readonly connectTimeoutMs: number;
  /** Idle connections are closed after this long. */
  readonly idleTimeoutMs: number;
  /** Connections are retired this long after they open (0: never). */
  readonly maxLifeMs: number;
  /** When the undici pool was made, for maxLifeMs. */
  private poolBorn = 0;

  constructor(
    readonly key: string,
    ep: IrEndpoint,
    readonly protocol: UpstreamProtocol,
    /** TLS to this endpoint (BackendTLSPolicy), or null for plain text. */
    readonly tls: UpstreamTls | null = null,
    /** Connection timeouts (BackendTrafficPolicy timeout); absent fields take the defaults. */
    conn: IrUpstreamConnection = {},
  ) {
    this.connectTimeoutMs = conn.connectTimeoutMs ?? DEFAULT_CONNECT_MS;
    const idle = conn.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.idleTimeoutMs = idle > 0 ? Math.min(idle, NEVER_MS) : NEVER_MS;
    this.maxLifeMs = conn.maxConnectionDurationMs ?? 0;
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

  static keyOf(ep: IrEndpoint, protocol: UpstreamProtocol, tlsKey = "", conn?: IrUpstreamConnection): string {
    const base = "path" in ep ? `${protocol}|unix:${ep.path}` : `${protocol}|${ep.address}|${ep.port}`;
    const withTls = tlsKey === "" ? base : `${base}|tls:${tlsKey}`;
    // Endpoints with other connection timeouts get connections of their own.
    if (conn === undefined) return withTls;
    return `${withTls}|conn:${conn.connectTimeoutMs ?? ""}/${conn.idleTimeoutMs ?? ""}/${conn.maxConnectionDurationMs ?? ""}`;
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
    if (p !== null && this.maxLifeMs > 0 && performance.now() - this.poolBorn > this.maxLifeMs) {
      // maxConnectionDuration: undici has no per-connection age limit, so the whole pool is retired
      // (its requests in flight finish) and a new one takes the next requests.
      void p.close().catch(() => undefined);
      p = this.pool = null;
    }
    if (p === null) {
      // buildConnector reads `timeout` from the options it is given (not a tls option).
      const tlsConnect = this.tls !== null ? { ...this.tls, options: { ...this.tls.options, timeout: this.connectTimeoutMs } as tls.ConnectionOptions } : null;
      p = new Pool(this.origin(), {
        connections: null,
        pipelining: 1,
        keepAliveTimeout: this.idleTimeoutMs,
        // A backend's Keep-Alive hint may shorten the idle time, never lengthen it past ours.
        keepAliveMaxTimeout: this.idleTimeoutMs,
        connectTimeout: this.connectTimeoutMs,
        // The route's timeouts are enforced by the proxy; these only bound stuck sockets.
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
        ...(this.socketPath !== null ? { socketPath: this.socketPath } : {}),
        ...(tlsConnect !== null ? { connect: undiciConnector(tlsConnect, this.socketPath) } : {}),
      });
      this.pool = p;
      this.poolBorn = performance.now();
    }
    return p;
  }

  /** Keep-alive connections for bodiless HTTP/1.1 requests (the common case), without undici. */
  raw(): H1Pool {
    let p = this.rawPool;
    if (p === null) {
      p = new H1Pool(
        { host: this.host, port: this.port, socketPath: this.socketPath, label: this.label, tls: this.tls?.options ?? null, connectTimeoutMs: this.connectTimeoutMs, maxLifeMs: this.maxLifeMs },
        POOL_CONNECTIONS,
        this.idleTimeoutMs,
      );
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
    this.limitSession(session, drop);
    // An idle session must not keep the worker alive on its own.
    session.unref();
    this.session = session;
    return session;
  }

  /** Connect timeout, idle timeout and maximum age of an HTTP/2 session. */
  private limitSession(session: http2.ClientHttp2Session, drop: () => void): void {
    const ms = this.connectTimeoutMs;
    if (ms > 0) {
      const t = setTimeout(() => {
        if (session.connecting && !session.destroyed) session.destroy(new ConnectTimeoutError(`connect timeout after ${ms} ms`));
      }, ms);
      t.unref();
      session.once("connect", () => clearTimeout(t));
      session.once("close", () => clearTimeout(t));
    }
    // No stream and no frame for the idle time: close (streams in flight keep it open).
    session.setTimeout(this.idleTimeoutMs, () => {
      drop();
      session.close();
    });
    if (this.maxLifeMs > 0) {
      const life = setTimeout(() => {
        // Retired: new requests get a new session; this one ends when its streams do.
        drop();
        if (!session.closed) session.close();
      }, this.maxLifeMs);
      life.unref();
      session.once("close", () => clearTimeout(life));
    }
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
