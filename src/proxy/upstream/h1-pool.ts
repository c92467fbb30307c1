// A keep-alive pool of plain net.Socket connections to one HTTP/1.1 endpoint, for requests without
// a body (most of them). Compared with undici's pool it skips the request object, header
// re-validation, the wasm parser round trips and the stream machinery on the upstream socket; the
// profile put undici at about 15% of a worker's CPU. Requests with a body still go through undici.
// One request at a time per connection; an idle connection is reused LIFO (warmest first).
import net from "node:net";
import tls from "node:tls";
import { UpstreamTimeoutError } from "./errors.js";
import { ResponseParser, type ResponseSink } from "./h1-response-parser.js";

/** What the pool reports to; implemented by the exchange's per-attempt object. */
export interface H1Handler {
  onHeaders(status: number, headers: string[]): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}

export class ConnectTimeoutError extends Error {
  readonly code = "SLUICE_CONNECT_TIMEOUT";
}

export class UpstreamClosedError extends Error {
  readonly code = "SLUICE_UPSTREAM_CLOSED";
}

const CONNECT_TIMEOUT_MS = 10_000;
/** Below the usual server keep-alive timeouts (node 5 s, nginx 75 s), so the server rarely closes first. */
const IDLE_TIMEOUT_MS = 4_000;
/** Idle connections are swept by one timer per pool, not a socket timeout armed per request. */
const SWEEP_MS = 1_000;
/**
 * A busy connection whose upstream sends nothing for this long fails with a timeout (504), as
 * undici's headers/body timeouts would; routes without timeouts must not hang forever.
 */
const STALL_MS = 300_000;
/** Header values may not carry CR, LF or NUL (request smuggling). */
const INVALID_VALUE = /[\r\n\0]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface H1Target {
  host: string | null;
  port: number;
  socketPath: string | null;
  /** Host header when the request has none. */
  label: string;
  /** TLS connection options (BackendTLSPolicy), or null for plain text. */
  tls?: tls.ConnectionOptions | null;
  /** Connection establishment bound (default 10 s; 0: none). */
  connectTimeoutMs?: number;
  /** Connections are not reused this long after they opened (0 or absent: no limit). */
  maxLifeMs?: number;
}

class H1Connection implements ResponseSink {
  readonly socket: net.Socket;
  private readonly parser = new ResponseParser(this);
  handler: H1Handler | null = null;
  /** When it went back to the pool (performance.now()). */
  idleSince = 0;
  /** When it was opened (performance.now()), for the target's maxLifeMs. */
  readonly born = performance.now();
  private gotBytes = false;
  /** Set by every read; the sweeper counts the sweeps it stayed unset while waiting. */
  activity = false;
  quietSweeps = 0;

  constructor(private readonly pool: H1Pool, t: H1Target) {
    const where = t.socketPath !== null ? { path: t.socketPath } : { host: t.host!, port: t.port };
    const s = t.tls ? tls.connect({ ...t.tls, ...where }) : t.socketPath !== null ? net.connect(t.socketPath) : net.connect(t.port, t.host!);
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(t.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    s.on("connect", this.onConnect);
    s.on("data", this.onSocketData);
    s.on("end", this.onEnd);
    s.on("error", this.onSocketError);
    s.on("close", this.onClose);
    s.on("timeout", this.onTimeout);
  }

  /** Writes one request; the handler hears about its response. */
  send(handler: H1Handler, head: string, isHead: boolean): void {
    this.handler = handler;
    this.gotBytes = false;
    this.activity = true;
    this.quietSweeps = 0;
    this.parser.reset(isHead);
    this.socket.write(head, "latin1");
  }

  resume(): void {
    this.socket.resume();
  }

  /** Drops the connection (cancelled attempt, or broken); the handler is not called again. */
  destroy(): void {
    this.handler = null;
    this.socket.destroy();
  }

  onHead(status: number, headers: string[]): void {
    const h = this.handler;
    if (h !== null && !h.onHeaders(status, headers) && this.handler === h) this.destroy();
  }

  onBody(chunk: Buffer): boolean {
    const h = this.handler;
    return h === null ? true : h.onData(chunk);
  }

  private readonly onConnect = (): void => {
    this.socket.setTimeout(0);
  };

  private readonly onSocketData = (chunk: Buffer): void => {
    const h = this.handler;
    if (h === null) {
      // Bytes on an idle connection: nothing can be asked on it any more.
      this.destroy();
      return;
    }
    this.gotBytes = true;
    this.activity = true;
    let flowing: boolean;
    try {
      flowing = this.parser.execute(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.handler !== h) return;
    if (this.parser.done) this.complete(h);
    else if (!flowing) this.socket.pause();
  };

  private complete(h: H1Handler): void {
    this.handler = null;
    if (this.parser.keepAlive && !this.parser.trailingBytes && !this.socket.destroyed) {
      this.socket.resume();
      this.pool.release(this);
    } else this.socket.destroy();
    h.onComplete();
  }

  private readonly onEnd = (): void => {
    const h = this.handler;
    if (h !== null && this.parser.untilClose && this.parser.end()) {
      this.complete(h);
      return;
    }
    this.fail(new UpstreamClosedError(this.gotBytes ? "upstream closed the connection mid-response" : "upstream closed the connection before responding"));
  };

  private readonly onSocketError = (err: Error): void => {
    this.fail(err);
  };

  private readonly onClose = (): void => {
    this.pool.forget(this);
    this.fail(new UpstreamClosedError("upstream connection closed"));
  };

  /** Armed only until the connection is established. */
  private readonly onTimeout = (): void => {
    this.fail(new ConnectTimeoutError("upstream connect timeout"));
  };

  /** Called once per sweep while busy: fails the attempt when the upstream stays silent too long. */
  checkStall(sweepMs: number, stallMs: number): void {
    // A paused socket waits for the client to read, not for the upstream.
    if (this.handler === null || this.activity || this.socket.isPaused()) {
      this.activity = false;
      this.quietSweeps = 0;
      return;
    }
    if (++this.quietSweeps * sweepMs >= stallMs) this.fail(new UpstreamTimeoutError(`upstream sent nothing for ${Math.round(stallMs / 1000)} s`));
  }

  private fail(err: Error): void {
    const h = this.handler;
    this.destroy();
    this.pool.forget(this);
    if (h !== null) h.onError(err);
  }
}

export class H1Pool {
  private readonly idle: H1Connection[] = [];
  private readonly all = new Set<H1Connection>();
  private closed = false;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly target: H1Target,
    private readonly maxConnections: number,
    private readonly idleMs = IDLE_TIMEOUT_MS,
    private readonly sweepMs = SWEEP_MS,
    private readonly stallMs = STALL_MS,
  ) {}

  /** False when the pool is at its limit (the caller uses another way). */
  get hasRoom(): boolean {
    return this.idle.length > 0 || this.all.size < this.maxConnections;
  }

  /**
   * Sends a bodiless request. `headers` is a flat lowercase list; throws on a header that cannot
   * be written safely. Returns the connection, to cancel the attempt with.
   */
  request(handler: H1Handler, method: string, path: string, headers: string[]): H1Connection {
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasHost = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!TOKEN.test(name) || INVALID_VALUE.test(value)) throw new TypeError(`invalid request header ${JSON.stringify(name)}`);
      if (name === "host") hasHost = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!hasHost) head += `host: ${this.target.label}\r\n`;
    head += "\r\n";
    let c = this.idle.pop();
    const life = this.target.maxLifeMs;
    // maxLifeMs: a connection past its age is not reused (the oldest idle ones are at the front).
    while (c !== undefined && life !== undefined && life > 0 && performance.now() - c.born > life) {
      c.destroy();
      this.all.delete(c);
      c = this.idle.pop();
    }
    if (c === undefined) {
      c = new H1Connection(this, this.target);
      this.all.add(c);
    }
    c.send(handler, head, method === "HEAD");
    this.startSweeper();
    return c;
  }

  release(c: H1Connection): void {
    const life = this.target.maxLifeMs;
    if (this.closed || (life !== undefined && life > 0 && performance.now() - c.born > life)) {
      c.destroy();
      return;
    }
    c.idleSince = performance.now();
    this.idle.push(c);
  }

  private startSweeper(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(sweepIdle, this.sweepMs, this);
    this.sweeper.unref();
  }

  /**
   * Closes connections idle for longer than idleMs (the oldest are at the front) and fails busy
   * ones whose upstream has been silent for stallMs. Runs while the pool has any connection.
   */
  sweep(): void {
    const limit = performance.now() - this.idleMs;
    let n = 0;
    while (n < this.idle.length && this.idle[n]!.idleSince < limit) n++;
    for (const c of this.idle.splice(0, n)) c.destroy();
    for (const c of this.all) c.checkStall(this.sweepMs, this.stallMs);
    if (this.all.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  forget(c: H1Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes idle connections now and busy ones when their response ends. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.destroy();
    this.stopSweeper();
  }

  destroy(): void {
    this.closed = true;
    this.stopSweeper();
    for (const c of this.all) c.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}

function sweepIdle(pool: H1Pool): void {
  pool.sweep();
}

export type { H1Connection };
