// Telling HTTP/2 with prior knowledge (h2c) from HTTP/1.1 on a plain-text connection: a client that
// speaks HTTP/2 first sends the fixed connection preface, which no HTTP/1.1 request starts with.
// The first bytes are read once per connection (never per request) and pushed back onto the socket
// before it is handed to the server that speaks its protocol.
import type net from "node:net";

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** 1: the bytes so far are the whole preface; 0: they cannot be the start of it; -1: need more. */
export function prefaceState(buf: Buffer): 1 | 0 | -1 {
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 0;
  return n === H2_PREFACE.length ? 1 : -1;
}

/**
 * Reads the first bytes of `sock` and calls `done(isH2)` with the socket paused and those bytes
 * unshifted. A socket silent for `timeoutMs` before deciding is handed over as HTTP/1.1 (where the
 * HTTP server's own timeouts apply); one that ends or fails before deciding is dropped: only a strict
 * prefix of the preface can be undecided, and that is no HTTP/1.1 request.
 */
export function sniffH2c(sock: net.Socket, timeoutMs: number, done: (sock: net.Socket, isH2: boolean) => void): void {
  let buf: Buffer | null = null;
  const finish = (isH2: boolean): void => {
    sock.removeListener("data", onData);
    sock.removeListener("timeout", onTimeout);
    sock.removeListener("end", onEnd);
    sock.removeListener("error", onError);
    sock.setTimeout(0);
    sock.pause();
    if (buf !== null) sock.unshift(buf);
    done(sock, isH2);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    const s = prefaceState(buf);
    if (s !== -1) finish(s === 1);
  };
  const onTimeout = (): void => finish(false);
  const onEnd = (): void => {
    sock.removeListener("data", onData);
    sock.removeListener("timeout", onTimeout);
    sock.removeListener("end", onEnd);
    sock.removeListener("error", onEnd);
    sock.destroy();
  };
  const onError = onEnd;
  sock.on("data", onData);
  sock.on("end", onEnd);
  sock.on("error", onError);
  sock.on("timeout", onTimeout);
  sock.setTimeout(timeoutMs);
}
