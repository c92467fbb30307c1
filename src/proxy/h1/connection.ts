// A plain-text HTTP/1.1 connection served without node:http while its requests are simple ones
// (request-head.ts says which): one request at a time, pipelined bytes kept until the response in
// progress ends. At the first request the fast path does not take, and only between requests, the
// connection goes to node:http for the rest of its life, with the unread bytes pushed back. Node's
// http server costs ~5 us of CPU a request on top of what this does (measured: a bare proxy on
// each, 20 B responses, wrk -c256).
import type net from "node:net";
import { FastReq, FastRes, type ResponseOwner } from "./message.js";
import { HAND_OVER, NEED_MORE, parseRequestHead } from "./request-head.js";

export interface FastH1Port {
  /** Answers one request (the port's request handler). */
  onRequest(req: FastReq, res: FastRes): void;
  /** Gives the socket, paused and with its unread bytes pushed back, to node:http. */
  handOver(sock: net.Socket): void;
  /** The connection is no longer served here (closed or handed over). */
  forget(conn: FastH1Connection): void;
  /** Heads longer than this go to node:http (which answers 431 over its limit). */
  maxHeadBytes(): number;
  /** Heads with more fields than this go to node:http. */
  maxFields(): number;
  /** Idle time before a kept-alive connection is closed. */
  readonly keepAliveMs: number;
  /** Responses say how long in a Keep-Alive field (node:http does on a plain port, not on a TLS one). */
  readonly advertiseKeepAlive: boolean;
}

/** Pipelined bytes kept while a response is in progress before the socket stops being read. */
const MAX_PENDING = 64 * 1024;

export class FastH1Connection implements ResponseOwner {
  /** Bytes read and not yet parsed. */
  private buf: Buffer | null = null;
  /** The response in progress. */
  private res: FastRes | null = null;
  private gone = false;
  private parsing = false;
  private scheduled = false;
  private readonly keepAliveSeconds: number;

  constructor(
    readonly sock: net.Socket,
    private readonly port: FastH1Port,
  ) {
    this.keepAliveSeconds = port.advertiseKeepAlive ? Math.floor(port.keepAliveMs / 1000) : 0;
    sock.on("data", this.onData);
    sock.on("end", this.onEnd);
    sock.on("error", this.onError);
    sock.on("close", this.onClose);
    sock.on("drain", this.onDrain);
    sock.on("timeout", this.onTimeout);
    sock.setTimeout(port.keepAliveMs);
    // Bytes the protocol sniffer read wait in the socket's buffer.
    sock.resume();
  }

  /** Nothing in progress: a closing port may drop the connection. */
  get idle(): boolean {
    return this.res === null;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.res !== null) {
      if (this.buf.length > MAX_PENDING) this.sock.pause();
      return;
    }
    this.parse();
  };

  /** Serves the complete requests at hand, one at a time. */
  private parse(): void {
    this.parsing = true;
    try {
      while (this.buf !== null && this.res === null && !this.gone) {
        const head = parseRequestHead(this.buf, this.port.maxHeadBytes(), this.port.maxFields());
        // A head cut between reads goes to node:http too, whose header timeouts apply to it.
        if (head === NEED_MORE || head === HAND_OVER) {
          this.handOver();
          return;
        }
        this.buf = this.buf.length > head.length ? this.buf.subarray(head.length) : null;
        const sock = this.sock;
        const res = new FastRes(sock, this, head.method === "HEAD", head.keepAlive, this.keepAliveSeconds);
        this.res = res;
        this.port.onRequest(new FastReq(head.method, head.url, head.headers, head.rawHeaders, sock), res);
      }
    } finally {
      this.parsing = false;
    }
  }

  responseDone(res: FastRes, keepAlive: boolean): void {
    if (res !== this.res) return;
    this.res = null;
    if (!keepAlive) {
      this.drop();
      // As node does after `Connection: close`: the FIN follows the last bytes.
      this.sock.destroySoon();
      return;
    }
    if (this.sock.isPaused()) this.sock.resume();
    // The next pipelined request waits until the caller that ended this one has finished its own
    // bookkeeping (parse() runs it in its loop when the response ended inside it).
    if (this.buf !== null && !this.parsing && !this.scheduled) {
      this.scheduled = true;
      process.nextTick(parseLater, this);
    }
  }

  /** From process.nextTick. */
  parseLater(): void {
    this.scheduled = false;
    if (!this.gone && this.res === null) this.parse();
  }

  private handOver(): void {
    const sock = this.sock;
    this.drop();
    // node:http handles the socket's errors from now on.
    sock.removeListener("error", this.onError);
    sock.setTimeout(0);
    sock.pause();
    if (this.buf !== null) sock.unshift(this.buf);
    this.buf = null;
    this.port.handOver(sock);
  }

  /** Stops serving the socket here. */
  private drop(): void {
    if (this.gone) return;
    this.gone = true;
    const sock = this.sock;
    sock.removeListener("data", this.onData);
    sock.removeListener("end", this.onEnd);
    sock.removeListener("drain", this.onDrain);
    sock.removeListener("timeout", this.onTimeout);
    sock.removeListener("close", this.onClose);
    // The error handler stays while the socket lives: an error after the last response must not
    // go unhandled (handOver removes it: node:http has its own).
    this.port.forget(this);
  }

  /** The client's response in progress, if any, ends unanswered; the connection goes. */
  private abort(): void {
    const res = this.res;
    this.res = null;
    this.drop();
    if (res !== null) res.aborted();
  }

  private readonly onEnd = (): void => {
    // node:http (without httpAllowHalfOpen) aborts what is in progress when the client ends.
    this.abort();
    if (this.sock.writable) this.sock.end();
  };

  private readonly onError = (): void => {
    this.abort();
    this.sock.destroy();
  };

  private readonly onClose = (): void => this.abort();

  private readonly onDrain = (): void => this.res?.drained();

  private readonly onTimeout = (): void => {
    // Idle past the keep-alive time; a request in progress has its own timeouts.
    if (this.res === null) this.sock.destroy();
  };
}

function parseLater(c: FastH1Connection): void {
  c.parseLater();
}
