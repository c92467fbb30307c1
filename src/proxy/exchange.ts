// One proxied request: upstream header list, body (streamed or buffered for replay), attempts with
// per-attempt and whole-request timeouts, retries with jittered backoff (bounded by the cluster's
// retry budget), the cluster's circuit breaker, and the response streamed back with back-pressure. Callbacks are methods on this object and on a small per-attempt object,
// so the hot path creates no closures beyond what node and undici need.
import type http2 from "node:http2";
import type { Readable, Writable } from "node:stream";
import type { Dispatcher } from "undici";
import { type CompiledBackendRef, type CompiledListener, type CompiledRoute, RETRY_CONNECT, RETRY_REFUSED_STREAM, RETRY_RESET } from "./compiled.js";
import { connectionTokens, headerAppend, headerRemove, headerSet, isHopByHop } from "./headers.js";
import { finishRequest } from "./request-log.js";
import { endResponse, sendSimple, writeHead, type Req, type Res } from "./respond.js";
import type { ClusterRuntime } from "./upstream/cluster.js";
import type { EndpointRuntime } from "./upstream/endpoint.js";
import type { H1Connection, H1Handler } from "./upstream/h1-pool.js";
import type { FastReq } from "./h1/message.js";
import { classify, UpstreamTimeoutError } from "./upstream/errors.js";
import { type Breaker, countOverflow, SLOT_GO, SLOT_QUEUED, type SlotWaiter } from "./upstream/breaker.js";
import { tlsFailure } from "./upstream/tls-connect.js";
import { GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, grpcStatusOf, grpcTimeoutMs, isGrpcRequest, respondTrailersOnly, sendGrpcStatus } from "./grpc.js";
import { ReplayCopy } from "./grpc-replay.js";
import { sendMirror, teeToMirrors } from "./upstream/mirror.js";
import { limitBody } from "./guards/request-limits.js";
import type { UpstreamErrorReason } from "../observe/proxy-metrics.js";
import { clientIpOf } from "./guards.js";
import { KEEP_ATTEMPT, KEEP_EXCHANGE, keepShape } from "./shape-keeper.js";

/** Request bodies up to this size are buffered when a route retries or mirrors. */
export const MAX_REPLAY_BODY = 64 * 1024;

const kExchange = Symbol("sluice.exchange");
type Tagged = { [kExchange]?: Exchange };

/** Upstream request headers: lowercase names, hop-by-hop removed, X-Forwarded-* appended. */
export function upstreamHeaders(req: Req, isH2: boolean, scheme: string, authority: string): string[] {
  const raw = req.rawHeaders;
  const list: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isHopByHop(name) || name === "expect") continue;
    if (isH2 && name.charCodeAt(0) === 58 /* : */) continue;
    list.push(name, raw[i + 1]!);
  }
  const conn = req.headers.connection;
  if (conn !== undefined) {
    const tokens = connectionTokens(conn);
    if (tokens) for (const t of tokens) headerRemove(list, t);
  }
  if (isH2 && req.headers.host === undefined && authority) list.push("host", authority);
  headerAppend(list, "x-forwarded-for", clientIpOf(req));
  headerAppend(list, "x-forwarded-proto", scheme);
  if (authority) headerAppend(list, "x-forwarded-host", authority);
  return list;
}

export function exchangeOf(res: Res): Exchange | undefined {
  return (res as Res & Tagged)[kExchange];
}

class H1Attempt implements Dispatcher.DispatchHandler {
  abortFn: ((err?: Error) => void) | null = null;
  cancelled: Error | null = null;
  /** The response is a retriable status: drain it, then retry. */
  discard = false;
  resume: (() => void) | null = null;
  constructor(readonly ex: Exchange) {}

  cancel(err: Error): void {
    if (this.abortFn !== null) this.abortFn(err);
    else this.cancelled = err;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled !== null || this.ex.current !== this) abort(this.cancelled ?? new Error("stale attempt"));
    else this.abortFn = abort;
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void): boolean {
    this.resume = resume;
    return this.ex.onUpstreamHeaders(this, statusCode, headers, null);
  }

  onData(chunk: Buffer): boolean {
    return this.ex.onUpstreamData(this, chunk);
  }

  onComplete(): void {
    this.ex.onUpstreamEnd(this);
  }

  onError(err: Error): void {
    this.ex.onUpstreamError(this, err);
  }

  resumeReading(): void {
    this.resume?.();
  }
}

/** A bodiless HTTP/1.1 request on the raw keep-alive pool. */
class PoolAttempt implements H1Handler {
  conn: H1Connection | null = null;
  discard = false;
  /** The client socket node corked for a write during the current upstream read. */
  private corked: Writable | null = null;
  constructor(readonly ex: Exchange) {
    keepShape(KEEP_ATTEMPT, this);
  }

  cancel(): void {
    const c = this.conn;
    this.conn = null;
    if (c !== null) c.destroy();
  }

  onHeaders(status: number, headers: string[]): boolean {
    return this.ex.onUpstreamHeaders(this, status, null, headers);
  }

  onData(chunk: Buffer, last: boolean): boolean {
    const sock = this.ex.isH2 ? null : this.ex.req.socket;
    const wasCorked = sock === null || sock.writableCorked > 0;
    const flowing = this.ex.onUpstreamData(this, chunk, last);
    // node corks the client socket on a response write until the next tick; flushChunks does it
    // once per upstream read instead, so the pool knows whether the kernel took the bytes.
    if (!wasCorked && sock!.writableCorked > 0) this.corked = sock;
    return flowing;
  }

  /**
   * After each upstream read: uncorks what onData corked (head + body of this read go out in one
   * writev) and says whether a chunk is still referenced. Chunks go only to the client response,
   * which holds them while it or its socket has bytes queued; HTTP/2 sessions queue them: held.
   */
  flushChunks(): boolean {
    const ex = this.ex;
    if (ex.isH2) return true;
    const c = this.corked;
    if (c !== null) {
      this.corked = null;
      c.uncork();
    }
    return (ex.res as Writable).writableLength > 0 || (ex.req.socket?.writableLength ?? 0) > 0;
  }

  onComplete(): void {
    this.conn = null;
    this.ex.onUpstreamEnd(this);
  }

  onError(err: Error): void {
    this.conn = null;
    this.ex.onUpstreamError(this, err);
  }

  resumeReading(): void {
    this.conn?.resume();
  }
}

class H2Attempt {
  stream: http2.ClientHttp2Stream | null = null;
  discard = false;
  /** The response was one HEADERS frame that ended the stream (gRPC trailers-only). */
  trailersOnly = false;
  constructor(readonly ex: Exchange) {}

  cancel(): void {
    const s = this.stream;
    if (s && !s.destroyed) s.close(0x8 /* CANCEL */);
  }

  start(ep: EndpointRuntime, method: string, path: string, headers: string[], body: Buffer | Readable | null): void {
    const h: http2.OutgoingHttpHeaders = { ":method": method, ":path": path, ":scheme": ep.tls !== null ? "https" : "http" };
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i]!;
      if (k === "host") h[":authority"] = headers[i + 1];
      else {
        const prev = h[k];
        h[k] = prev === undefined ? headers[i + 1] : `${String(prev)}, ${headers[i + 1]}`;
      }
    }
    if (h[":authority"] === undefined) h[":authority"] = ep.label;
    const s = ep.h2().request(h, { endStream: body === null });
    this.stream = s;
    s.on("response", (rh, flags) => {
      this.trailersOnly = (flags & 0x1) /* END_STREAM */ !== 0;
      const list: string[] = [];
      for (const k of Object.keys(rh)) {
        if (k.charCodeAt(0) === 58 || isHopByHop(k)) continue;
        const v = rh[k];
        if (Array.isArray(v)) for (const x of v) list.push(k, x);
        else if (v !== undefined) list.push(k, String(v));
      }
      this.ex.onUpstreamHeaders(this, Number(rh[":status"]), null, list);
    });
    s.on("data", (chunk: Buffer) => {
      if (!this.ex.onUpstreamData(this, chunk)) s.pause();
    });
    s.on("trailers", (t) => this.ex.onUpstreamTrailers(this, t));
    s.on("end", () => this.ex.onUpstreamEnd(this));
    s.on("error", (err) => this.ex.onUpstreamError(this, refusedStream(s, err)));
    s.on("close", () => {
      // Reset without a response or an end: report it as a reset.
      if (!s.readableEnded) this.ex.onUpstreamError(this, refusedStream(s, Object.assign(new Error("h2 stream closed"), { code: "ECONNRESET" })));
    });
    if (body !== null) {
      if (Buffer.isBuffer(body)) s.end(body);
      else body.pipe(s);
    }
  }

  resumeReading(): void {
    this.stream?.resume();
  }
}

type Attempt = H1Attempt | PoolAttempt | H2Attempt;

const kRefused = Symbol("sluice.refusedStream");
const NGHTTP2_REFUSED_STREAM = 7;

/** Marks an error of a stream the backend refused (REFUSED_STREAM: provably not processed). */
function refusedStream(s: http2.ClientHttp2Stream, err: Error): Error {
  if (s.rstCode === NGHTTP2_REFUSED_STREAM) (err as Error & { [kRefused]?: boolean })[kRefused] = true;
  return err;
}

/** RFC 9110 idempotent methods: repeating them has the same effect as sending them once. */
function idempotent(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "PUT" || method === "DELETE" || method === "OPTIONS" || method === "TRACE";
}

/** "250ms", "5s", "1.5s", "2m". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}

const OVERFLOW_HEADER = "x-sluice-overflow";

function isConnectTimeout(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "SLUICE_CONNECT_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT";
}

function onResClose(this: Res & Tagged): void {
  const ex = this[kExchange];
  if (ex !== undefined && !ex.done) ex.clientGone();
}

function onDrain(this: Res & Tagged): void {
  this[kExchange]?.current?.resumeReading();
}

function onAttemptTimeout(ex: Exchange, n: number): void {
  ex.attemptTimer = null;
  if (ex.done || ex.headersSent || ex.attempts !== n) return;
  ex.timeoutText = `upstream per-try timeout after ${formatMs(ex.route.backendRequestMs)} (attempt ${n})`;
  ex.abortCurrent(new UpstreamTimeoutError("per-try timeout"));
}

function onRequestTimeout(ex: Exchange): void {
  ex.requestTimer = null;
  if (ex.done || ex.headersSent) return;
  ex.abortCurrent(null);
  ex.backend.counters.error("timeout");
  ex.timeoutText = `upstream request timeout after ${formatMs(ex.requestMs)}${ex.attempts > 1 ? ` (${ex.attempts} attempts)` : ""}`;
  ex.fail("timeout");
}

function onRetryTimer(ex: Exchange): void {
  ex.retryTimer = null;
  if (!ex.done) ex.attempt();
}

export class Exchange implements SlotWaiter {
  current: Attempt | null = null;
  attempts = 0;
  retriesLeft: number;
  attemptTimer: NodeJS.Timeout | null = null;
  requestTimer: NodeJS.Timeout | null = null;
  retryTimer: NodeJS.Timeout | null = null;
  done = false;
  headersSent = false;
  status = 0;
  upstreamStatus = 0;
  bytesOut = 0;
  endpoint = "";
  body: Buffer | Readable | null = null;
  replayable = true;
  /** A gRPC call (content-type application/grpc*): errors are answered with a grpc-status. */
  readonly grpc: boolean;
  /** gRPC request bodies stream to the first attempt while a copy is kept for retries. */
  copy: ReplayCopy | null = null;
  /** Response headers the route's guards added (CORS, rate-limit headers ...), or null. */
  extraResponse: string[] | null = null;
  /** The endpoint of the attempt in progress, until its outcome is reported to the cluster. */
  ep: EndpointRuntime | null = null;
  /** The whole-request timeout in force (the route's, or a shorter gRPC deadline); 0: none. */
  requestMs = 0;
  /** What the 504 body says when a timeout ends the exchange. */
  timeoutText = "";
  /** Holds one of the breaker's slots (an attempt in flight). */
  private slot = false;
  /** Waits in the breaker's queue for a connection. */
  private waiting = false;
  /** Counted in the breaker's requests in progress. */
  private counted = false;
  /** Holds a retry of the retry budget. */
  private retrying = false;
  /** Why a wanted retry was not made (a retry limit), for a gateway-made error answer. */
  private retryNote = "";
  private readonly cluster: ClusterRuntime;
  private readonly breaker: Breaker;

  constructor(
    readonly L: CompiledListener,
    readonly req: Req,
    readonly res: Res,
    readonly isH2: boolean,
    readonly start: number,
    readonly route: CompiledRoute,
    readonly backend: CompiledBackendRef,
    readonly method: string,
    readonly path: string,
    readonly headers: string[],
  ) {
    this.cluster = backend.cluster!;
    this.breaker = backend.breaker!;
    this.retriesLeft = route.retry !== null ? route.retry.attempts : 0;
    this.grpc = isGrpcRequest(req.headers);
    (res as Res & Tagged)[kExchange] = this;
    res.on("close", onResClose);
    keepShape(KEEP_EXCHANGE, this);
  }

  /** Decides how the body travels, fires mirrors, starts the first attempt. */
  run(): void {
    const req = this.req;
    const h = req.headers;
    const hasBody = this.isH2
      ? !(req as http2.Http2ServerRequest).stream.endAfterHeaders
      : (h["content-length"] !== undefined && h["content-length"] !== "0") || h["transfer-encoding"] !== undefined;
    let requestMs = this.route.requestMs;
    if (this.grpc) {
      // The client's deadline bounds the call here too, so the gateway answers DEADLINE_EXCEEDED
      // and frees the backend stream instead of leaving it to run on.
      const g = grpcTimeoutMs(h["grpc-timeout"]);
      if (g > 0 && (requestMs === 0 || g < requestMs)) requestMs = g;
    }
    this.requestMs = requestMs;
    if (requestMs > 0) this.requestTimer = setTimeout(onRequestTimeout, requestMs, this);
    if (!hasBody) {
      this.body = null;
      this.begin();
      return;
    }
    // The fast path's requests have no body (h1/request-head.ts).
    const stream = req as Exclude<Req, FastReq>;
    const len = Number(h["content-length"]);
    if (this.route.wantsReplayableBody && len >= 0 && len <= MAX_REPLAY_BODY) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (this.done) return;
        this.body = Buffer.concat(chunks);
        this.begin();
      });
      stream.on("error", () => {
        if (!this.done) this.clientGone();
      });
      return;
    }
    // A body limit on a body of unknown length: counted as it streams (bodyTooLarge past it).
    const max = this.route.maxBodyBytes ?? 0;
    const src: Readable = max > 0 && (this.isH2 || h["content-length"] === undefined) ? limitBody(stream, max, this) : stream;
    if (this.grpc && this.route.retry !== null) {
      this.copy = new ReplayCopy(src, MAX_REPLAY_BODY);
      this.body = this.copy.stream;
      this.begin();
      return;
    }
    this.body = src;
    this.replayable = false;
    this.begin();
  }

  /** Whether another attempt can be given the whole request body. */
  private canReplay(): boolean {
    return this.replayable && (this.copy === null || this.copy.complete);
  }

  private begin(): void {
    const mirrors = this.backend.mirrors;
    if (mirrors !== null) {
      const body = this.body;
      let streamed: ClusterRuntime[] | null = null;
      for (let i = 0; i < mirrors.length; i++) {
        const m = mirrors[i]!;
        if (m.fraction < 1 && Math.random() >= m.fraction) continue;
        if (body === null || Buffer.isBuffer(body)) sendMirror(m.cluster, this.method, this.path, this.headers.slice(), body);
        else (streamed ??= []).push(m.cluster);
      }
      // A body that was not buffered is copied to the mirrors as it streams to the backend.
      if (streamed !== null) this.body = teeToMirrors(body as Readable, streamed, this.method, this.path, this.headers);
    }
    this.attempt();
  }

  /** The breaker handed this exchange a slot it waited for. */
  onSlot(): void {
    this.waiting = false;
    this.slot = true;
    if (this.done) this.releaseSlot();
    else this.attempt();
  }

  private releaseSlot(): void {
    if (this.slot) {
      this.slot = false;
      this.breaker.release();
    }
  }

  /** 503 at once for a request over a circuit breaker limit, marked so clients can tell it from a backend's 503. */
  private overflow(): void {
    const b = this.breaker;
    countOverflow(this.route.name, this.backend.label, b.refused);
    this.fail("no_endpoint", false, `upstream overflow: circuit breaker ${b.refused} (${b.refusedAt}) reached for ${this.backend.label}`, 503, "circuit-breaker");
  }

  attempt(): void {
    if (!this.slot) {
      const b = this.breaker;
      if (!this.counted) {
        this.counted = true;
        b.requests++;
      }
      const got = b.acquire(this);
      if (got === SLOT_QUEUED) {
        this.waiting = true;
        countOverflow(this.route.name, this.backend.label, "max_connections");
        return;
      }
      if (got !== SLOT_GO) {
        this.overflow();
        return;
      }
      this.slot = true;
    }
    if (this.cluster.tlsError !== null) {
      this.backend.counters.error("connect");
      this.fail("connect", false, `upstream TLS not usable: ${this.cluster.tlsError}`);
      return;
    }
    const ep = this.cluster.pick(this.req);
    if (ep === null) {
      this.backend.counters.error("no_endpoint");
      this.fail("no_endpoint", false, this.cluster.unavailable());
      return;
    }
    this.cluster.started(ep);
    this.ep = ep;
    this.endpoint = ep.label;
    const n = ++this.attempts;
    if (this.route.backendRequestMs > 0) this.attemptTimer = setTimeout(onAttemptTimeout, this.route.backendRequestMs, this, n);
    const body = n > 1 && this.copy !== null ? this.copy.replay() : this.body;
    try {
      if (this.cluster.protocol === "h2c") {
        const a = new H2Attempt(this);
        this.current = a;
        a.start(ep, this.method, this.path, this.headers, body);
      } else if (body === null && ep.raw().hasRoom) {
        const a = new PoolAttempt(this);
        this.current = a;
        a.conn = ep.raw().request(a, this.method, this.path, this.headers);
      } else {
        const a = new H1Attempt(this);
        this.current = a;
        ep.h1().dispatch({ path: this.path, method: this.method, headers: this.headers, body }, a);
      }
    } catch (err) {
      this.onUpstreamError(this.current!, err as Error);
    }
  }

  onUpstreamHeaders(a: Attempt, status: number, raw: Buffer[] | null, list: string[] | null): boolean {
    if (a !== this.current || this.done) {
      a.cancel(new Error("stale attempt"));
      return false;
    }
    if (status < 200) return true;
    this.clearAttemptTimer();
    this.upstreamStatus = status;
    const ep = this.ep;
    if (ep !== null) {
      this.ep = null;
      this.cluster.settle(ep, status);
    }
    const retry = this.route.retry;
    if (retry !== null && this.retriesLeft > 0 && this.canReplay()) {
      // The backend saw the request: a non-idempotent one is retried only when the policy says so.
      let wanted = retry.codes[status] === 1 && (retry.nonIdempotent || idempotent(this.method));
      // A gRPC failure before any message (trailers-only) can be retried on its grpc-status: the
      // statuses listed are the service's own word that the call may be tried again (gRPC's model).
      if (!wanted && retry.grpcCodes !== null && list !== null && a instanceof H2Attempt && a.trailersOnly) {
        const g = grpcStatusOf(list);
        wanted = g > 0 && retry.grpcCodes[g] === 1;
      }
      if (wanted && this.grantRetry()) {
        a.discard = true;
        return true;
      }
    }
    if (this.requestTimer !== null) {
      clearTimeout(this.requestTimer);
      this.requestTimer = null;
    }
    let headers = list;
    if (headers === null) {
      headers = [];
      const r = raw!;
      for (let i = 0; i < r.length; i += 2) {
        const name = r[i]!.toString("latin1").toLowerCase();
        if (isHopByHop(name)) continue;
        headers.push(name, r[i + 1]!.toString("latin1"));
      }
    }
    const edit = this.backend.responseEdit;
    if (edit !== null) edit(headers);
    const extra = this.extraResponse;
    if (extra !== null) for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
    if (ep !== null && this.cluster.stamps !== null) this.cluster.stamp(headers, ep, this.req);
    this.headersSent = true;
    this.status = status;
    try {
      if (this.isH2 && a instanceof H2Attempt && a.trailersOnly) {
        // Pass a trailers-only response on as one: gRPC clients read its status only that way.
        respondTrailersOnly(this.res, status, headers);
        this.current = null;
        this.finish();
        return true;
      }
      writeHead(this.res, this.isH2, status, headers);
    } catch {
      // Invalid upstream header for this client protocol: answer 502 instead.
      this.headersSent = false;
      a.cancel(new Error("invalid upstream response headers"));
      this.current = null;
      this.fail("reset", true);
      return false;
    }
    return true;
  }

  /** HTTP/2 response trailers (grpc-status ...) go on to HTTP/2 clients. */
  onUpstreamTrailers(a: Attempt, trailers: http2.IncomingHttpHeaders): void {
    if (a !== this.current || a.discard || this.done || !this.isH2 || !this.headersSent) return;
    const out: Record<string, string | string[]> = {};
    for (const k of Object.keys(trailers)) {
      if (k.charCodeAt(0) === 58 || isHopByHop(k)) continue;
      const v = trailers[k];
      if (v !== undefined) out[k] = v;
    }
    (this.res as http2.Http2ServerResponse).addTrailers(out);
  }

  /**
   * `chunk` may be a view of a reused read buffer: anything that keeps it must show in
   * PoolAttempt.flushChunks. `last`: the body is complete with this chunk; the response is ended
   * with it, so node writes head and body at once without arming its deferred uncork (a tick).
   */
  onUpstreamData(a: Attempt, chunk: Buffer, last = false): boolean {
    if (a !== this.current || a.discard) return true;
    this.bytesOut += chunk.length;
    if (last) {
      endResponse(this.res, chunk);
      return true;
    }
    if ((this.res as Writable).write(chunk)) return true;
    this.res.once("drain", onDrain);
    return false;
  }

  onUpstreamEnd(a: Attempt): void {
    if (a !== this.current || this.done) return;
    this.releaseSlot();
    if (a.discard) {
      this.scheduleRetry();
      return;
    }
    this.current = null;
    // Ended already when the last body chunk ended it.
    if (!this.res.writableEnded) endResponse(this.res);
    this.finish();
  }

  onUpstreamError(a: Attempt, err: Error): void {
    if (a !== this.current || this.done) return;
    this.current = null;
    this.releaseSlot();
    this.clearAttemptTimer();
    const reason = classify(err);
    this.backend.counters.error(reason);
    const ep = this.ep;
    if (ep !== null) {
      this.ep = null;
      this.cluster.settleError(ep, reason);
    }
    const connectMs = ep?.connectTimeoutMs ?? 0;
    if (this.headersSent) {
      // Mid-body failure: the status line is gone, so cut the client connection.
      this.res.destroy();
      this.finish();
      return;
    }
    // GEP-1731: connection errors (refused, reset, closed before the response) and an attempt that
    // hits the backendRequest timeout are retriable whatever the codes; a policy's retryOn narrows
    // that. The request timeout still bounds the whole exchange. Retry needs the request body at
    // hand (buffered, or none).
    if (this.retriesLeft > 0 && this.canReplay() && this.retriesFailure(reason, err)) {
      this.scheduleRetry();
      return;
    }
    const connectTimeout = reason === "connect" && isConnectTimeout(err);
    if (reason === "timeout" && this.timeoutText === "") this.timeoutText = "upstream timeout: the backend sent nothing for too long";
    let detail = tlsFailure(err) ?? undefined;
    if (connectTimeout) detail = `upstream connect timeout${connectMs > 0 ? ` after ${formatMs(connectMs)}` : ""} (${this.endpoint})`;
    if (this.retryNote !== "") detail = `${detail ?? (reason === "timeout" ? this.timeoutText : `upstream ${reason === "connect" ? "connect error" : "reset before headers"}`)} (not retried: ${this.retryNote})`;
    this.fail(reason, false, detail, connectTimeout ? 504 : undefined);
  }

  /** Whether a failure without a response is one the route retries (and a retry may be had). */
  private retriesFailure(reason: string, err: Error): boolean {
    const retry = this.route.retry;
    if (retry === null) return false;
    const refused = (err as Error & { [kRefused]?: boolean })[kRefused] === true;
    const cause = reason === "connect" ? RETRY_CONNECT : refused ? RETRY_REFUSED_STREAM : RETRY_RESET;
    if ((retry.on & cause) === 0) return false;
    // A reset or timeout may come after the backend acted on the request: only a connect failure
    // or a refused stream prove it was not processed.
    if (cause === RETRY_RESET && !retry.nonIdempotent && !idempotent(this.method)) return false;
    return this.grantRetry();
  }

  /** Takes a retry from the cluster's retry budget (giving back the one this exchange held). */
  private grantRetry(): boolean {
    const budget = this.breaker.retries;
    if (this.retrying) budget.done();
    const refused = budget.grant(this.breaker.requests);
    this.retrying = refused === null;
    if (refused !== null) {
      countOverflow(this.route.name, this.backend.label, refused);
      this.retryNote = `${refused.replaceAll("_", " ")} reached`;
    }
    return refused === null;
  }

  private scheduleRetry(): void {
    this.current = null;
    this.releaseSlot();
    this.retriesLeft--;
    const r = this.route.retry;
    const base = r?.backoffMs ?? 0;
    const max = r?.maxBackoffMs ?? base;
    // Exponential backoff with jitter: the n-th retry waits between half and all of
    // min(base x 2^n, max), but never less than base (GEP-1731's backoff is a minimum).
    const hi = Math.min(base * 2 ** this.attempts, max);
    const lo = Math.min(Math.max(base, hi / 2), hi);
    this.retryTimer = setTimeout(onRetryTimer, lo + (hi - lo) * Math.random(), this);
  }

  abortCurrent(err: Error | null): void {
    const a = this.current;
    if (a === null) {
      if (err !== null && this.retryTimer === null) {
        const reason = classify(err);
        this.backend.counters.error(reason);
        this.fail(reason);
      }
      return;
    }
    if (err === null) {
      this.current = null;
      a.cancel(new UpstreamTimeoutError("request timeout"));
      return;
    }
    a.cancel(err);
    // Undici reports the abort through onError; h2 streams through 'close'. Handle it now in
    // case the attempt was still queued and will never call back.
    this.onUpstreamError(a, err);
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer !== null) {
      clearTimeout(this.attemptTimer);
      this.attemptTimer = null;
    }
  }

  /**
   * Answers for a failed exchange (the caller counted the upstream error). As Envoy does: 503 when
   * no connection could be made or it was reset or closed before response headers, 504 on timeout,
   * 502 (`invalidResponse`) when the upstream answered something this client cannot be given.
   */
  fail(reason: UpstreamErrorReason, invalidResponse = false, detail?: string, statusOverride?: number, overflow?: string): void {
    if (this.done) return;
    let status = 503;
    let text = detail !== undefined ? `${detail}\n` : "upstream connect error or disconnect/reset before headers\n";
    if (invalidResponse) {
      status = 502;
      text = "invalid upstream response\n";
    } else if (reason === "timeout") {
      status = 504;
      text = `${detail ?? (this.timeoutText || "upstream request timeout")}\n`;
    } else if (reason === "no_endpoint") {
      text = detail !== undefined ? `${detail}\n` : "no healthy upstream\n";
    }
    if (statusOverride !== undefined) status = statusOverride;
    this.status = status;
    const extra = this.extraResponse === null ? (overflow === undefined ? null : []) : [...this.extraResponse];
    if (overflow !== undefined) extra!.push(OVERFLOW_HEADER, overflow);
    if (this.grpc) sendGrpcStatus(this.res, this.isH2, status === 504 ? GRPC_DEADLINE_EXCEEDED : GRPC_UNAVAILABLE, text, extra);
    else this.bytesOut += sendSimple(this.res, this.isH2, status, text, extra, null);
    this.finish();
  }

  /** The streamed body grew past the route's limit: the attempt stops; 413 if nothing was answered yet. */
  bodyTooLarge(max: number): void {
    if (this.done) return;
    const a = this.current;
    this.current = null;
    if (a !== null) a.cancel(new Error("request body too large"));
    if (this.headersSent) {
      this.res.destroy();
    } else {
      this.status = 413;
      const extra = this.isH2 ? [] : ["connection", "close"];
      if (this.extraResponse !== null) extra.push(...this.extraResponse);
      this.bytesOut += sendSimple(this.res, this.isH2, 413, `request body too large: over ${max} bytes\n`, extra, null);
    }
    this.finish();
  }

  /** Ends the exchange after an internal error (the response was already answered or destroyed). */
  abandon(status: number): void {
    if (this.done) return;
    const a = this.current;
    this.current = null;
    if (a !== null) a.cancel(new Error("internal error"));
    if (!this.headersSent) this.status = status;
    this.finish();
  }

  clientGone(): void {
    if (this.done) return;
    const a = this.current;
    this.current = null;
    if (a !== null) a.cancel(new Error("client closed the connection"));
    if (!this.headersSent) this.status = 499;
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.releaseSlot();
    const b = this.breaker;
    if (this.waiting) {
      this.waiting = false;
      b.cancel(this);
    }
    if (this.counted) {
      this.counted = false;
      b.requests--;
    }
    if (this.retrying) {
      this.retrying = false;
      b.retries.done();
    }
    if (this.ep !== null) {
      this.cluster.release(this.ep);
      this.ep = null;
    }
    if (this.attemptTimer !== null) clearTimeout(this.attemptTimer);
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.attemptTimer = this.requestTimer = this.retryTimer = null;
    finishRequest(
      this.L, this.req, this.isH2, this.start, this.status, this.bytesOut, this.route.name,
      this.endpoint || this.backend.label, this.upstreamStatus, this.backend.counters, this.route.duration,
    );
  }
}

/** Applies the chosen backend's rewrite and header edits to a new upstream header list. */
export function prepareUpstream(
  backend: CompiledBackendRef,
  headers: string[],
  path: string,
  query: string,
): string {
  const rw = backend.rewrite;
  let p = path;
  if (rw !== null) {
    if (rw.hostname !== null) headerSet(headers, "host", rw.hostname);
    if (rw.path !== null) p = rw.path(path);
  }
  if (backend.requestEdit !== null) backend.requestEdit(headers);
  return query.length > 0 ? `${p}?${query}` : p;
}
