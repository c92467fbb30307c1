// WebSocket over HTTP/2 (RFC 8441, extended CONNECT): listeners advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL; a CONNECT stream with :protocol websocket is handed to the
// HTTP/1.1 Upgrade path (upgrade-handler.ts: routing, guards, the raw pipe to one endpoint) through
// an adapter: the request becomes a GET with Upgrade headers (and a Sec-WebSocket-Key of our own,
// since RFC 8441 clients send none), and the backend's HTTP/1.1 answer is turned back into an HTTP/2
// response: 101 -> 200, after which WebSocket frames flow unchanged in both directions.
import { createHash, randomBytes } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { CompiledListener } from "./compiled.js";
import { isHopByHop } from "./headers.js";
import { handleUpgrade } from "./upgrade-handler.js";

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A backend's response head larger than this is refused. */
const MAX_HEAD = 64 * 1024;

/** The 'connect' event of an HTTP/2 server; `socket`/`head` are set for HTTP/1.1 CONNECT on the TLS server. */
export function handleConnect(L: CompiledListener, req: http2.Http2ServerRequest | http.IncomingMessage, resOrSocket: http2.Http2ServerResponse | Duplex): void {
  if (req.httpVersionMajor !== 2) {
    // HTTP/1.1 CONNECT (tunnels) is not something the gateway offers.
    (resOrSocket as Duplex).destroy();
    return;
  }
  const h2req = req as http2.Http2ServerRequest;
  const res = resOrSocket as http2.Http2ServerResponse;
  if (h2req.headers[":protocol"] !== "websocket") {
    res.writeHead(405, { "content-type": "text/plain; charset=utf-8" });
    res.end("CONNECT is only supported for WebSocket (RFC 8441)\n");
    return;
  }
  const key = randomBytes(16).toString("base64");
  const socket = new H2UpgradeSocket(h2req, res, key);
  handleUpgrade(L, upgradeRequest(h2req, key), socket, Buffer.alloc(0));
}

/** The HTTP/1.1 Upgrade request the extended CONNECT stands for. */
function upgradeRequest(req: http2.Http2ServerRequest, key: string): http.IncomingMessage {
  const headers: http.IncomingHttpHeaders = {};
  const raw: string[] = [];
  const src = req.headers;
  for (const name of Object.keys(src)) {
    if (name.charCodeAt(0) === 58 /* : */ || isHopByHop(name) || name === "host" || name === "sec-websocket-key") continue;
    const v = src[name];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [String(v)]) raw.push(name, one);
    headers[name] = v as string & string[];
  }
  const authority = String(src[":authority"] ?? src.host ?? "");
  const add = (name: string, value: string): void => {
    raw.push(name, value);
    headers[name] = value;
  };
  add("host", authority);
  add("connection", "Upgrade");
  add("upgrade", "websocket");
  add("sec-websocket-key", key);
  if (headers["sec-websocket-version"] === undefined) add("sec-websocket-version", "13");
  // Only what the Upgrade path reads: routing and logging fields, the client socket for its address.
  const fake = { method: "GET", url: req.url, headers, rawHeaders: raw, httpVersion: "2.0", httpVersionMajor: 2, httpVersionMinor: 0, socket: req.socket };
  return fake as unknown as http.IncomingMessage;
}

/**
 * The client side of the Upgrade pipe, backed by the HTTP/2 stream: bytes read are the stream's
 * DATA; bytes written are the backend's HTTP/1.1 response, whose head becomes the HTTP/2 response.
 */
class H2UpgradeSocket extends Duplex {
  /** The TLS server name of the connection (the Upgrade path checks it against the Host). */
  readonly servername: string | undefined;
  private head: Buffer | null = Buffer.alloc(0);

  constructor(
    private readonly req: http2.Http2ServerRequest,
    private readonly res: http2.Http2ServerResponse,
    private readonly key: string,
  ) {
    super();
    const sn = (req.socket as TLSSocket | undefined)?.servername;
    this.servername = typeof sn === "string" ? sn : undefined;
    req.on("data", (c: Buffer) => {
      if (!this.push(c)) req.pause();
    });
    req.on("end", () => this.push(null));
    res.on("close", () => this.destroy());
  }

  override _read(): void {
    this.req.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.head !== null) {
      const buf = Buffer.concat([this.head, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buf.length > MAX_HEAD) return cb(new Error("backend response head too large"));
        this.head = buf;
        return cb();
      }
      this.head = null;
      const err = this.respond(buf.subarray(0, end).toString("latin1"));
      if (err !== null) return cb(err);
      chunk = buf.subarray(end + 4);
      if (chunk.length === 0) return cb();
    }
    if (this.res.write(chunk)) cb();
    else this.res.once("drain", () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.res.writableEnded) this.res.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const s = this.res.stream;
    if (!s.destroyed && !this.res.writableEnded) s.close(0x8 /* CANCEL */);
    cb(err);
  }

  /** Turns the HTTP/1.1 status line and headers into the HTTP/2 response. */
  private respond(text: string): Error | null {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (!m) return new Error("backend answered the Upgrade with something that is not HTTP/1.1");
    const status = Number(m[1]);
    const out: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      if (isHopByHop(name) || name === "sec-websocket-accept") continue;
      out[name] = line.slice(i + 1).trim();
    }
    if (status === 101) {
      const accept = /^sec-websocket-accept:\s*(.+)$/im.exec(text)?.[1]?.trim();
      const want = createHash("sha1").update(this.key + WS_GUID).digest("base64");
      if (accept !== want) {
        this.res.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
        this.res.end("backend did not accept the WebSocket handshake\n");
        return null;
      }
      // RFC 8441: a 2xx answers the extended CONNECT; the stream then carries the WebSocket.
      this.res.writeHead(200, out);
      return null;
    }
    // A refusal (or the gateway's own answer) keeps its status; its body follows as DATA. The
    // HTTP/1.1 framing headers do not apply to an HTTP/2 stream.
    delete out["content-length"];
    this.res.writeHead(status, out);
    return null;
  }
}
