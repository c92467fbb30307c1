// Request limits, answered by the gateway with the right status before anything reaches a backend:
// request head too large or too many header fields -> 431, request target too long -> 414, a body
// over the route's limit -> 413 (Content-Length here; a streamed body is counted in exchange.ts).
//
// Three layers, so the common case costs nothing per request:
//  * the port's HTTP/1.1 parser is given the largest header size of the port's Gateway listeners
//    (node answers 431 itself), and the port checks header count and target length before routing
//    (portLimitReply) against the port's largest limits;
//  * a Gateway listener whose limits are stricter than its port's, or a route with a body limit,
//    gets this guard (order 10) with its own numbers.
import type { IncomingHttpHeaders } from "node:http";
import { Transform, type Duplex, type Readable, type TransformCallback } from "node:stream";
import type { IrGatewayListener, IrListener, IrRequestLimits, IrRoute } from "../../ir/types.js";
import type { CompiledListener } from "../compiled.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, GuardVerdict, RequestGuard } from "../guards.js";
import { finishRequest } from "../request-log.js";
import { sendSimple, type Req, type Res } from "../respond.js";

/** Defaults (documented in the README "Limits" and the ClientTrafficPolicy schema): Envoy's where it has one. */
export const DEFAULT_MAX_HEADER_BYTES = 60 * 1024;
export const DEFAULT_MAX_HEADERS_COUNT = 100;
export const DEFAULT_MAX_PATH_LENGTH = 16 * 1024;

/** A Gateway listener's limits with the defaults filled in. */
export function effectiveLimits(l: IrRequestLimits | undefined): Required<IrRequestLimits> {
  return {
    maxRequestHeaderBytes: l?.maxRequestHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    maxHeadersCount: l?.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT,
    maxPathLength: l?.maxPathLength ?? DEFAULT_MAX_PATH_LENGTH,
  };
}

/** What a port enforces for every request on it: the largest limits of its Gateway listeners. */
export interface PortLimits {
  maxHeaderBytes: number;
  /** rawHeaders entries (2 per field). */
  maxRawHeaders: number;
  maxPathLength: number;
}

export function portLimits(l: IrListener): PortLimits {
  let bytes = 0;
  let count = 0;
  let path = 0;
  for (const g of l.gatewayListeners) {
    const e = effectiveLimits(g.limits);
    bytes = Math.max(bytes, e.maxRequestHeaderBytes);
    count = Math.max(count, e.maxHeadersCount);
    path = Math.max(path, e.maxPathLength);
  }
  if (l.gatewayListeners.length === 0) {
    bytes = DEFAULT_MAX_HEADER_BYTES;
    count = DEFAULT_MAX_HEADERS_COUNT;
    path = DEFAULT_MAX_PATH_LENGTH;
  }
  return { maxHeaderBytes: bytes, maxRawHeaders: count * 2, maxPathLength: path };
}

/** Header names and values plus the target, as node's HTTP/1.1 parser counts the head. */
function headBytes(req: Req): number {
  const raw = req.rawHeaders;
  let n = (req.url ?? "").length;
  for (let i = 0; i < raw.length; i++) n += raw[i]!.length;
  return n;
}

const TOO_MANY = "request header fields too large: too many header fields\n";
const TOO_LARGE = "request header fields too large\n";
const URI_TOO_LONG = "request URI too long\n";

/**
 * Port-wide limits, checked before routing. Returns true when the request was answered. HTTP/1.1
 * header bytes are bounded by the parser already; HTTP/2 header lists are summed here.
 */
export function portLimitReply(L: CompiledListener, req: Req, res: Res, lim: PortLimits): boolean {
  const isH2 = req.httpVersionMajor === 2;
  let status = 0;
  let body = "";
  if (req.rawHeaders.length > lim.maxRawHeaders) {
    status = 431;
    body = TOO_MANY;
  } else if ((req.url ?? "").length > lim.maxPathLength) {
    status = 414;
    body = URI_TOO_LONG;
  } else if (isH2 && headBytes(req) > lim.maxHeaderBytes) {
    status = 431;
    body = TOO_LARGE;
  } else return false;
  const start = performance.now();
  L.snapshot.inflight++;
  const n = sendSimple(res, isH2, status, body, null, null);
  finishRequest(L, req, isH2, start, status, n, null, null, 0, L.notFound, null);
  return true;
}

/** The port-wide checks for an Upgrade request (WebSocket): answered on the raw socket, which is closed. */
export function upgradeLimitReply(req: Req, socket: Duplex, lim: PortLimits): boolean {
  let line: string;
  if (req.rawHeaders.length > lim.maxRawHeaders) line = "431 Request Header Fields Too Large";
  else if ((req.url ?? "").length > lim.maxPathLength) line = "414 URI Too Long";
  else return false;
  socket.end(`HTTP/1.1 ${line}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  return true;
}

/** The head is fully read at this point, so the connection stays usable after 431/414. */
class RequestLimitsGuard implements RequestGuard {
  readonly name = "request-limits";
  constructor(
    /** 0: the port's limit is this listener's, nothing more to check. */
    private readonly maxHeaderBytes: number,
    private readonly maxRawHeaders: number,
    private readonly maxPathLength: number,
    private readonly maxBodyBytes: number,
  ) {}

  check(g: GuardRequest): GuardVerdict {
    const req = g.req;
    if (this.maxRawHeaders > 0 && req.rawHeaders.length > this.maxRawHeaders) return { status: 431, body: TOO_MANY };
    if (this.maxPathLength > 0 && (req.url ?? "").length > this.maxPathLength) return { status: 414, body: URI_TOO_LONG };
    if (this.maxHeaderBytes > 0 && headBytes(req) > this.maxHeaderBytes) return { status: 431, body: TOO_LARGE };
    if (this.maxBodyBytes > 0) return this.checkBody(g.headers, g.isH2);
    return null;
  }

  private checkBody(h: IncomingHttpHeaders, isH2: boolean): GuardVerdict {
    const cl = h["content-length"];
    if (cl === undefined) return null;
    const len = Number(cl);
    if (!(len > this.maxBodyBytes)) return null;
    const reply: GuardReply = { status: 413, body: `request body too large: ${len} bytes, the limit is ${this.maxBodyBytes}\n` };
    // The body was not read: close the connection after answering rather than read it all.
    if (!isH2) reply.headers = ["connection", "close"];
    return reply;
  }
}

/** The body limit a route's exchange enforces on streamed bodies (0: none). */
export function routeBodyLimit(r: IrRoute): number {
  return r.maxRequestBodyBytes ?? 0;
}

registerGuardFactory({
  name: "request-limits",
  order: 10,
  build(route: IrRoute, listener: IrListener, _env, gateway?: IrGatewayListener): RequestGuard | null {
    const body = routeBodyLimit(route);
    let bytes = 0;
    let raw = 0;
    let path = 0;
    if (gateway !== undefined && gateway.limits !== undefined) {
      // Only what is stricter than the port-wide checks needs checking again.
      const port = portLimitsCached(listener);
      const own = effectiveLimits(gateway.limits);
      if (own.maxRequestHeaderBytes < port.maxHeaderBytes) bytes = own.maxRequestHeaderBytes;
      if (own.maxHeadersCount * 2 < port.maxRawHeaders) raw = own.maxHeadersCount * 2;
      if (own.maxPathLength < port.maxPathLength) path = own.maxPathLength;
    }
    if (bytes === 0 && raw === 0 && path === 0 && body === 0) return null;
    return new RequestLimitsGuard(bytes, raw, path, body);
  },
});

const portCache = new WeakMap<IrListener, PortLimits>();
function portLimitsCached(l: IrListener): PortLimits {
  let p = portCache.get(l);
  if (p === undefined) {
    p = portLimits(l);
    portCache.set(l, p);
  }
  return p;
}

/**
 * The request body as it goes upstream, counted: past `max` bytes the exchange is told (it answers
 * 413 or cuts the response) and the stream fails, so the upstream request is aborted and nothing
 * more is read from the client. The client's stream itself is left alone (destroying it would
 * close the connection before the 413 is written).
 */
export function limitBody(req: Readable, max: number, ex: { bodyTooLarge(max: number): void }): Readable {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      seen += chunk.length;
      if (seen <= max) return cb(null, chunk);
      req.unpipe(t);
      ex.bodyTooLarge(max);
      cb(new Error(`request body over ${max} bytes`));
    },
  });
  req.on("error", (err) => t.destroy(err));
  return req.pipe(t);
}
