// A keep-alive pool of plain net.Socket connections to one HTTP/1.1 endpoint, for requests without
// a body (most of them). Compared with undici's pool it skips the request object, header
// re-validation, the wasm parser round trips and the stream machinery on the upstream socket; the
// profile put undici at about 15% of a worker's CPU. Requests with a body still go through undici.
// One request at a time per connection; an idle connection is reused LIFO (warmest first).
import net from "node:net";
import tls from "node:tls";
import { UpstreamTimeoutError } from "./errors.js";
import { LINE_BREAKING, TOKEN } from "../h1/field-syntax.js";
import { ResponseParser, type ResponseSink } from "./h1-response-parser.js";
import { KEEP_UPSTREAM, keepShape } from "../shape-keeper.js";

/** What the pool reports to; implemented by the exchange's per-attempt object. */
export interface H1Handler {
  onHeaders(status: number, headers: string[]): boolean;
  /**
   * A body chunk. On plain TCP connections it is a view into the connection's read buffer, which
   * the next read overwrites unless flushChunks() said a chunk is still referenced. `last`: the
   * chunk completes a Content-Length body (onComplete follows).
   */
  onData(chunk: Buffer, last: boolean): boolean;
  /**
   * Called after a read that handed body chunks over: write out what was buffered for them during
   * the read, and say whether any chunk is still referenced (a write the kernel did not take
   * whole). A handler without it is taken to keep every chunk.
   */
  flushChunks?(): boolean;
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

/**
 * Plain TCP connections read into a buffer of their own that is reused from read to read (node's
 * onread option), instead of a new 64 KiB ArrayBuffer per read: at 64 KiB responses those
 * allocations were what triggered most scavenges and the mark-compacts ("external memory
 * pressure"). After a read, the handler writes its chunks out and says whether the kernel took
 * them whole; if not, the queued write keeps that buffer and the connection gets a new one.
 * (One buffer shared by all connections cannot work: node hands a socket its next buffer right
 * after each read, so every socket would hold the shared one.) A connection starts with 16 KiB and
 * moves to 128 KiB the first time a read fills its buffer: 128 KiB takes a 64 KiB response and its
 * head in one read, where 64 KiB took two reads and two client writes (measured: bench/RESULTS.md).
 */
const READ_BUFFER_START = 16 * 1024;
const READ_BUFFER_MAX = 128 * 1024;
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
  /** The current read handed body bytes to the handler. */
  private gaveBody = false;
  /** Where the next read goes (plain TCP); replaced when a handler keeps the last one. */
  private readBuf: Buffer | null = null;
  private readSize = READ_BUFFER_START;
  /** Set by every read; the sweeper counts the sweeps it stayed unset while waiting. */
  activity = false;
  quietSweeps = 0;

  constructor(private readonly pool: H1Pool, t: H1Target) {
    const where = t.socketPath !== null ? { path: t.socketPath } : { host: t.host!, port: t.port };
    // TLS sockets do not take onread: they keep "data" events and node's buffers.
    const s = t.tls ? tls.connect({ ...t.tls, ...where }) : net.connect({ ...where, onread: { buffer: this.nextReadBuffer, callback: this.onRead } });
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(t.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    s.on("connect", this.onConnect);
    if (t.tls) s.on("data", this.onSocketData);
    s.on("end", this.onEnd);
    s.on("error", this.onSocketError);
    s.on("close", this.onClose);
    s.on("timeout", this.onTimeout);
    keepShape(KEEP_UPSTREAM, this);
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

  onBody(chunk: Buffer, last: boolean): boolean {
    const h = this.handler;
    if (h === null) return true;
    this.gaveBody = true;
    return h.onData(chunk, last);
  }

  private readonly onConnect = (): void => {
    this.socket.setTimeout(0);
  };

  /** node asks for the buffer of the next read right after each read (and once at the start). */
  private readonly nextReadBuffer = (): Buffer => (this.readBuf ??= Buffer.allocUnsafeSlow(this.readSize));

  /** onread callback: `buf` is this connection's read buffer. Pausing is done as for "data" events. */
  private readonly onRead = (n: number, buf: Uint8Array): boolean => {
    if (n === buf.length && this.readSize < READ_BUFFER_MAX) {
      this.readSize = READ_BUFFER_MAX;
      this.readBuf = null;
    }
    this.onSocketData((buf as Buffer).subarray(0, n));
    return true;
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
    this.gaveBody = false;
    let flowing: boolean;
    try {
      flowing = this.parser.execute(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.gaveBody) {
      // Asked even if the attempt was dropped meanwhile: its chunks may still sit in a write.
      const held = h.flushChunks?.() ?? true;
      if (held) this.readBuf = null;
      // The handler's "stop" came from bytes buffered during the read; all of them written now.
      else flowing = true;
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
      if (!TOKEN.test(name) || LINE_BREAKING.test(value)) throw new TypeError(`invalid request header ${JSON.stringify(name)}`);
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
