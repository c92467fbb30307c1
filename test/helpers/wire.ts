// A raw HTTP/1.x client for wire tests: exact bytes out, exact responses back (status line, header
// lines in order, body by Content-Length, chunked framing or the connection's close).
import net from "node:net";
import tls from "node:tls";
import type { EchoResponse } from "../../src/demo/echo-server.js";

/** One HTTP/1.x response as it came off the wire. */
export interface WireResponse {
  version: string;
  status: number;
  reason: string;
  /** Header lines in order, names as sent. */
  lines: [string, string][];
  body: Buffer;
  /** The body came with chunked framing. */
  chunked: boolean;
  /** The body was delimited by the connection's close. */
  byClose: boolean;
  get(name: string): string | undefined;
  all(name: string): string[];
  json<T = EchoResponse>(): T;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** A raw client connection: everything read is kept in one buffer that responses are cut from. */
export class Wire {
  private buf = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    // A reset after the last answer is seen as a close.
    sock.on("error", () => {});
  }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      sock.once("connect", () => resolve(new Wire(sock)));
      sock.once("error", reject);
    });
  }

  /** A TLS connection (certificate not checked) offering `alpn`; none: no ALPN extension. */
  static openTls(port: number, servername: string, alpn?: string[]): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const sock = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) });
      sock.once("secureConnect", () => resolve(new Wire(sock)));
      sock.once("error", reject);
    });
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Bytes received and not yet taken by response(). */
  pending(): string {
    return this.buf.toString("latin1");
  }

  /** Resolves when `done()` holds, re-checked on every read and on close; rejects after `ms`. */
  private async until<T>(done: () => T | null, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = done();
      if (v !== null) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: nothing after ${ms} ms; have ${JSON.stringify(this.pending().slice(0, 300))}, closed=${this.closed}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
  }

  /** Reads the next complete response (a 1xx counts as one). `head`: the request was HEAD. */
  response(opts: { head?: boolean; ms?: number } = {}): Promise<WireResponse> {
    return this.until(() => this.take(opts.head ?? false), opts.ms ?? 5000, "response");
  }

  /** Takes the next `n` raw bytes (an upgraded connection's data), waiting up to `ms` for them. */
  bytes(n: number, ms = 5000): Promise<Buffer> {
    return this.until(
      () => {
        if (this.buf.length < n) return null;
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      },
      ms,
      `${n} bytes`,
    );
  }

  /** Whether the gateway closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    try {
      await this.until(() => (this.closed ? true : null), ms, "close");
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.sock.destroy();
  }

  private take(head: boolean): WireResponse | null {
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) return null;
    const headText = this.buf.subarray(0, end).toString("latin1");
    const [statusLine, ...rest] = headText.split("\r\n");
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine!);
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const lines = rest.map((l): [string, string] => {
      const i = l.indexOf(":");
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const status = Number(m[2]);
    const all = (n: string): string[] => lines.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    const te = all("transfer-encoding").join(",").toLowerCase();
    const cl = all("content-length")[0];
    let pos = end + 4;
    let body = Buffer.alloc(0);
    let chunked = false;
    let byClose = false;
    if (head || (status >= 100 && status < 200) || status === 204 || status === 304) {
      // no body
    } else if (te.includes("chunked")) {
      chunked = true;
      const parts: Buffer[] = [];
      for (;;) {
        const eol = this.buf.indexOf("\r\n", pos);
        if (eol < 0) return null;
        const size = parseInt(this.buf.subarray(pos, eol).toString("latin1"), 16);
        if (Number.isNaN(size)) throw new Error(`bad chunk size at ${pos}`);
        if (size === 0) {
          // Trailers (none expected) end with an empty line.
          const fin = this.buf.indexOf("\r\n", eol + 2);
          if (fin < 0) return null;
          pos = fin + 2;
          break;
        }
        if (this.buf.length < eol + 2 + size + 2) return null;
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (this.buf.length < pos + n) return null;
      body = this.buf.subarray(pos, pos + n);
      pos += n;
    } else {
      if (!this.closed) return null;
      byClose = true;
      body = this.buf.subarray(pos);
      pos = this.buf.length;
    }
    this.buf = this.buf.subarray(pos);
    return {
      version: m[1]!,
      status,
      reason: m[3]!,
      lines,
      body: Buffer.from(body),
      chunked,
      byClose,
      get: (n) => all(n)[0],
      all,
      json: <T>() => JSON.parse(body.toString()) as T,
    };
  }
}
