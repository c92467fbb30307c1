// Incremental HTTP/1.1 response parser for the raw upstream pool: status line and headers, then the
// body framed by Content-Length, chunked coding (decoded, so the client side frames it afresh) or
// the end of the connection. 1xx interim responses are skipped. Anything malformed is an error:
// the connection is then closed, never reused.
import { isHopByHop } from "../headers.js";

export interface ResponseSink {
  /** Status and header list (lowercase names, hop-by-hop headers removed). */
  onHead(status: number, headers: string[]): void;
  /**
   * A body chunk (a view into the read buffer, which may be reused after); false asks the caller to
   * pause reading. `last`: the chunk ends a Content-Length body (the response is complete with it).
   */
  onBody(chunk: Buffer, last: boolean): boolean;
}

const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from("\r\n\r\n");

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

export class ResponseParseError extends Error {
  readonly code = "SLUICE_BAD_UPSTREAM_RESPONSE";
}

export class ResponseParser {
  private state = HEAD;
  /** Bytes of an incomplete head or chunk-size/trailer line, kept between reads. */
  private pending: Buffer | null = null;
  private remaining = 0;
  /** The connection may carry another request after this response. */
  keepAlive = false;
  /** Bytes after the end of the response: the connection cannot be reused. */
  trailingBytes = false;
  private noBody = false;

  constructor(private readonly sink: ResponseSink) {}

  /** Starts a new response on the same connection; `head` is true for a HEAD request. */
  reset(isHeadRequest: boolean): void {
    this.state = HEAD;
    this.pending = null;
    this.remaining = 0;
    this.keepAlive = false;
    this.trailingBytes = false;
    this.noBody = isHeadRequest;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /** True when the body runs to the end of the connection (its end completes the response). */
  get untilClose(): boolean {
    return this.state === UNTIL_CLOSE;
  }

  /** The connection ended: completes a body delimited by the close; false if the response was cut. */
  end(): boolean {
    if (this.state !== UNTIL_CLOSE) return this.state === DONE;
    this.state = DONE;
    return true;
  }

  /**
   * Feeds bytes read from the connection; `done` tells when the response is complete. Returns
   * false when the sink asked to pause (every body byte of this read was handed over anyway).
   */
  execute(data: Buffer): boolean {
    let buf = data;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    let pos = 0;
    let flowing = true;
    while (pos < buf.length) {
      switch (this.state) {
        case HEAD: {
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD) throw new ResponseParseError("upstream response head too large");
            // A copy: the read buffer may be reused for the next read.
            this.pending = Buffer.from(buf.subarray(pos));
            return flowing;
          }
          this.parseHead(buf.toString("latin1", pos, end));
          pos = end + 4;
          break;
        }
        case LENGTH: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = DONE;
          if (!this.sink.onBody(chunk, this.remaining === 0)) flowing = false;
          break;
        }
        case CHUNK_SIZE:
        case CHUNK_DATA_END:
        case TRAILERS: {
          const eol = buf.indexOf(10 /* \n */, pos);
          if (eol < 0) {
            if (buf.length - pos > MAX_HEAD) throw new ResponseParseError("upstream chunk line too long");
            // A copy: the read buffer may be reused for the next read.
            this.pending = Buffer.from(buf.subarray(pos));
            return flowing;
          }
          const line = buf.toString("latin1", pos, eol).replace(/\r$/, "");
          pos = eol + 1;
          this.chunkLine(line);
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = CHUNK_DATA_END;
          if (!this.sink.onBody(chunk, false)) flowing = false;
          break;
        }
        case UNTIL_CLOSE: {
          if (!this.sink.onBody(pos === 0 ? buf : buf.subarray(pos), false)) flowing = false;
          return flowing;
        }
        default:
          // DONE with bytes left: the upstream sent more than one response.
          this.trailingBytes = true;
          return flowing;
      }
    }
    return flowing;
  }

  private chunkLine(line: string): void {
    if (this.state === CHUNK_DATA_END) {
      if (line !== "") throw new ResponseParseError("missing CRLF after chunk data");
      this.state = CHUNK_SIZE;
      return;
    }
    if (this.state === TRAILERS) {
      // Trailers are dropped (node:http would need them declared up front); an empty line ends them.
      if (line === "") this.state = DONE;
      return;
    }
    const semi = line.indexOf(";");
    const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ResponseParseError("invalid chunk size");
    const size = parseInt(hex, 16);
    if (size === 0) this.state = TRAILERS;
    else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
  }

  private parseHead(head: string): void {
    // Status line: "HTTP/1.x NNN reason". Scanned by hand: this runs once per response.
    const c = head.charCodeAt(7);
    if (!head.startsWith("HTTP/1.") || (c !== 48 && c !== 49) || head.charCodeAt(8) !== 32) {
      throw new ResponseParseError("invalid upstream status line");
    }
    const status = statusAt(head, 9);
    const http10 = c === 48;
    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let close = http10;
    let eol = head.indexOf("\r\n");
    while (eol >= 0) {
      const from = eol + 2;
      eol = head.indexOf("\r\n", from);
      const to = eol < 0 ? head.length : eol;
      const colon = head.indexOf(":", from);
      const first = head.charCodeAt(from);
      if (colon <= from || colon >= to || first === 32 || first === 9) throw new ResponseParseError("invalid upstream header line");
      const name = head.slice(from, colon).toLowerCase();
      const value = trimOws(head, colon + 1, to);
      if (name === "content-length") {
        if (!/^\d{1,15}$/.test(value) || (contentLength >= 0 && contentLength !== Number(value))) {
          throw new ResponseParseError("invalid upstream content-length");
        }
        contentLength = Number(value);
      } else if (name === "transfer-encoding") {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        if (!chunked) close = true;
      } else if (name === "connection") {
        const v = value.toLowerCase();
        if (v.includes("close")) close = true;
        else if (http10 && v.includes("keep-alive")) close = false;
      }
      if (!isHopByHop(name)) headers.push(name, value);
    }
    if (status < 200) {
      // Interim response: the real one follows on the same connection.
      if (status === 101) throw new ResponseParseError("unexpected 101 on a plain request");
      return;
    }
    if (chunked && contentLength >= 0) {
      // RFC 9112 6.3: Transfer-Encoding wins; the length must not be forwarded with it.
      for (let i = 0; i < headers.length; i += 2) if (headers[i] === "content-length") headers.splice(i, 2);
      contentLength = -1;
    }
    this.keepAlive = !close;
    if (this.noBody || status === 204 || status === 304) this.state = DONE;
    else if (chunked) this.state = CHUNK_SIZE;
    else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? DONE : LENGTH;
    } else {
      this.state = UNTIL_CLOSE;
      this.keepAlive = false;
    }
    this.sink.onHead(status, headers);
  }
}

/** Three digits at `i`, followed by a space or the end of the line. */
function statusAt(head: string, i: number): number {
  let n = 0;
  for (let k = i; k < i + 3; k++) {
    const d = head.charCodeAt(k) - 48;
    if (!(d >= 0 && d <= 9)) throw new ResponseParseError("invalid upstream status code");
    n = n * 10 + d;
  }
  const after = head.charCodeAt(i + 3);
  if (!Number.isNaN(after) && after !== 32 && after !== 13) throw new ResponseParseError("invalid upstream status line");
  return n;
}

/** head[from, to) without leading/trailing spaces and tabs. */
function trimOws(head: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (head.charCodeAt(a) === 32 || head.charCodeAt(a) === 9)) a++;
  while (b > a && (head.charCodeAt(b - 1) === 32 || head.charCodeAt(b - 1) === 9)) b--;
  return head.slice(a, b);
}
