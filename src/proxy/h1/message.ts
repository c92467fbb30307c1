// The request and response objects of the HTTP/1.1 fast path: the parts of node's IncomingMessage
// and ServerResponse the proxy uses, without the stream machinery around them (a bodiless request
// has no body to stream; the response writes straight to the socket). A response writes the same
// bytes node:http would: its status line, the fields given, then Date, Content-Length or chunked
// framing, Connection and Keep-Alive as node adds them.
import { STATUS_CODES, type IncomingHttpHeaders } from "node:http";
import type net from "node:net";
import { INVALID_RESPONSE_VALUE, TOKEN } from "./field-syntax.js";

export class FastReq {
  readonly httpVersion = "1.1";
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
    readonly rawHeaders: string[],
    readonly socket: net.Socket,
  ) {}
}

/** What a response tells its connection. */
export interface ResponseOwner {
  /** The response was handed to the socket in full; `keepAlive`: the connection may carry another. */
  responseDone(res: FastRes, keepAlive: boolean): void;
}

let dateText = "";
let dateUntil = 0;

/** The Date field's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  if (now >= dateUntil) {
    dateText = new Date(now).toUTCString();
    dateUntil = now - (now % 1000) + 1000;
  }
  return dateText;
}

const FRAMING_OPEN = 0;
const FRAMING_LENGTH = 1;
const FRAMING_CHUNKED = 2;
const FRAMING_NONE = 3;

type Listener = (this: FastRes) => void;

export class FastRes {
  statusCode = 200;
  /** Set by writeHead, as node's is. */
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  /** Status line and the caller's fields, until the first write decides the framing. */
  private head = "";
  private flushed = false;
  private framing = FRAMING_OPEN;
  private bodyAllowed = true;
  private keep: boolean;
  private closeListeners: Listener[] | null = null;
  private drainListener: Listener | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly owner: ResponseOwner,
    private readonly isHead: boolean,
    keepAlive: boolean,
    /** Node's Keep-Alive field value (its keepAliveTimeout in seconds); 0: no such field. */
    private readonly keepAliveSeconds: number,
  ) {
    this.keep = keepAlive;
  }

  /** Node's writeHead(status, flatList); throws on a field node would refuse. */
  writeHead(status: number, headers: string[]): this {
    if (this.headersSent) throw new Error("headers already sent");
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid status code ${status}`);
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "unknown"}\r\n`;
    let framing = FRAMING_OPEN;
    let hasDate = false;
    let hasConnection = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!TOKEN.test(name) || INVALID_RESPONSE_VALUE.test(value)) throw new TypeError(`invalid response header ${JSON.stringify(name)}`);
      // Names are lowercase on the proxy's lists; the length test keeps the others cheap.
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === "date") hasDate = true;
          break;
        case 10:
          if (name.toLowerCase() === "connection") {
            hasConnection = true;
            if (/(^|[\s,])close($|[\s,])/i.test(value)) this.keep = false;
          }
          break;
        case 14:
          if (name.toLowerCase() === "content-length") framing = FRAMING_LENGTH;
          break;
        case 17:
          if (name.toLowerCase() === "transfer-encoding") framing = /chunked\s*$/i.test(value) ? FRAMING_CHUNKED : FRAMING_NONE;
          break;
      }
      head += `${name}: ${value}\r\n`;
    }
    // A transfer coding other than chunked last: the body ends when the connection does.
    if (framing === FRAMING_NONE) this.keep = false;
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    if (!hasConnection) head += !this.keep ? "Connection: close\r\n" : this.keepAliveSeconds > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${this.keepAliveSeconds}\r\n` : "Connection: keep-alive\r\n";
    // RFC 9110 6.4.1: no content in 1xx, 204 and 304 answers, nor in one to HEAD.
    this.bodyAllowed = !(status < 200 || status === 204 || status === 304 || this.isHead);
    if (status < 200 || status === 204 || status === 304) framing = FRAMING_NONE;
    this.framing = framing;
    this.statusCode = status;
    this.head = head;
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.writableEnded || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode, []);
    if (!this.flushed) {
      // More may follow: without a length the body is chunked (HTTP/1.1 clients read that).
      if (this.framing === FRAMING_OPEN) {
        if (this.bodyAllowed) {
          this.framing = FRAMING_CHUNKED;
          this.head += "Transfer-Encoding: chunked\r\n";
        } else this.framing = FRAMING_NONE;
      }
      return this.flushHead(chunk, false);
    }
    return this.writeBody(chunk, false) ?? true;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    if (this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode, []);
    const body = chunk === undefined ? null : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!this.flushed) {
      // The whole body is at hand: node gives it a Content-Length.
      if (this.framing === FRAMING_OPEN) {
        if (this.bodyAllowed) {
          this.framing = FRAMING_LENGTH;
          this.head += `Content-Length: ${body === null ? 0 : body.length}\r\n`;
        } else this.framing = FRAMING_NONE;
      }
      this.flushHead(body, true);
    } else this.writeBody(body, true);
    this.closeListeners = null;
    this.drainListener = null;
    this.owner.responseDone(this, this.keep);
    return this;
  }

  /** Writes the head and the first body bytes together (one writev). */
  private flushHead(body: Buffer | null, last: boolean): boolean {
    this.flushed = true;
    const head = `${this.head}\r\n`;
    this.head = "";
    const sock = this.socket;
    sock.cork();
    const headOk = sock.write(head, "latin1");
    const bodyOk = this.writeBody(body, last);
    sock.uncork();
    return bodyOk ?? headOk;
  }

  /**
   * Body bytes in the response's framing; `last` ends a chunked body. Returns the last write's
   * result (false: wait for 'drain'), or null when there was nothing to write.
   */
  private writeBody(body: Buffer | null, last: boolean): boolean | null {
    const sock = this.socket;
    const has = body !== null && body.length > 0 && this.bodyAllowed;
    if (this.framing !== FRAMING_CHUNKED || !this.bodyAllowed) return has ? sock.write(body) : null;
    if (!has) return last ? sock.write("0\r\n\r\n", "latin1") : null;
    sock.cork();
    sock.write(`${body.length.toString(16)}\r\n`, "latin1");
    sock.write(body);
    const ok = sock.write(last ? "\r\n0\r\n\r\n" : "\r\n", "latin1");
    sock.uncork();
    return ok;
  }

  /** Node's res.destroy(): the connection goes. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.socket.destroy();
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  on(event: "close" | "drain", fn: Listener): this {
    if (event === "drain") this.drainListener = fn;
    else if (!this.writableEnded) (this.closeListeners ??= []).push(fn);
    return this;
  }

  once(event: "close" | "drain", fn: Listener): this {
    return this.on(event, fn);
  }

  /** The socket drained (the connection passes it on to the response in progress). */
  drained(): void {
    const fn = this.drainListener;
    this.drainListener = null;
    if (fn !== null) fn.call(this);
  }

  /** The connection closed before this response ended. */
  aborted(): void {
    this.destroyed = true;
    const listeners = this.closeListeners;
    this.closeListeners = null;
    if (listeners !== null) for (const fn of listeners) fn.call(this);
  }
}
