// One TCP or TLS listener. Each accepted connection reads the listener state current at accept time
// (a snapshot swap leaves established connections alone), picks a backend, connects and hands both
// sockets to spliceSockets. TLS first reads the ClientHello to route by SNI; in Passthrough it then
// replays the bytes it read to the backend, in Terminate it replays them into a TLS server socket
// (the listener's certificate, picked by SNI) and relays the plaintext, re-encrypted when the
// backend has a BackendTLSPolicy.
import net from "node:net";
import tls from "node:tls";
import type { AccessLog } from "../observe/access-log.js";
import type { L4Result } from "../observe/l4-metrics.js";
import type { CompiledL4Listener, CompiledL4Route, SniMatch } from "./compile.js";
import type { Choice, Target } from "./pick.js";
import { logSession, newSession, type SessionInfo } from "./session-log.js";
import { readClientHelloSni } from "./sni.js";
import { drainConnections, listenOn } from "../proxy/server-lifecycle.js";
import { admitConnection } from "../proxy/conn-policy.js";
import { spliceSockets, type SpliceStats } from "./splice.js";
import { tlsFailure } from "../proxy/upstream/tls-connect.js";

/** Bound on waiting for a complete ClientHello (and, in Terminate, for the whole handshake). */
const HELLO_TIMEOUT_MS = 10_000;
/** Bound on connecting to a backend. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface TcpL4Options {
  log?: AccessLog | null;
}

export class TcpL4Server {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly log: AccessLog | null;
  closing: Promise<void> | null = null;

  constructor(
    public current: CompiledL4Listener,
    opts: TcpL4Options = {},
  ) {
    this.log = opts.log ?? null;
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.onConnection(sock));
  }

  private track(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.once("close", () => this.sockets.delete(sock));
  }

  private onConnection(client: net.Socket): void {
    if (!admitConnection(client)) return;
    this.track(client);
    client.on("error", () => client.destroy());
    const l = this.current;
    const s = newSession(l.protocol === "TLS" ? "TLS" : "TCP", l.name, client.remoteAddress, client.remotePort, l.port);
    if (l.protocol === "TLS") this.routeBySni(client, l, s);
    else if (l.route === null) this.refuse(client, s, l.stats.noRoute, "no_route");
    else this.forward(client, s, l.route, null);
  }

  /** Closes a connection that gets no backend, counting and logging why. */
  private refuse(client: net.Socket, s: SessionInfo, cell: { n: number }, result: L4Result): void {
    cell.n++;
    client.destroy();
    logSession(this.log, s, result, 0, 0);
  }

  private routeBySni(client: net.Socket, l: CompiledL4Listener, s: SessionInfo): void {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(null), HELLO_TIMEOUT_MS);
    const done = (m: SniMatch | null): void => {
      clearTimeout(timer);
      client.off("data", onData);
      client.off("end", onEnd);
      client.pause();
      // Not a ClientHello, or none in time: nothing to route by.
      if (m === null) return this.refuse(client, s, l.stats.badHello, "bad_hello");
      s.tls = m.mode;
      // No route for this name: close without answering (no certificate to alert with in passthrough;
      // in Terminate, refusing before the handshake tells the client the same, sooner).
      if (m.route === null) return this.refuse(client, s, l.stats.noRoute, "no_route");
      if (m.terminate) this.terminate(client, s, m.route, m, buf);
      else this.forward(client, s, m.route, buf);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = readClientHelloSni(buf);
      if (r.state === "more") return;
      if (r.state === "invalid") return done(null);
      s.sni = r.serverName;
      done(l.forSni(r.serverName));
    };
    const onEnd = (): void => done(null);
    client.on("data", onData);
    client.on("end", onEnd);
    client.resume();
  }

  /** Picks a backend; counts and closes the client when the pick leaves nothing to connect to. */
  private choose(client: net.Socket, s: SessionInfo, route: CompiledL4Route): (Choice & { target: Target }) | null {
    s.route = route.name;
    const c = route.picker.choose();
    if (c === null) {
      // A route whose backendRefs all have weight 0 (or none): its share of nothing is refused.
      this.refuse(client, s, route.stats.result("", "no_endpoint"), "no_endpoint");
      return null;
    }
    s.backend = c.backend.name;
    if (c.target === null) {
      const cells = c.backend.cells;
      this.refuse(client, s, cells ? cells.refused : { n: 0 }, c.backend.name === null ? "unresolved" : "no_endpoint");
      return null;
    }
    const t = c.target;
    s.upstream = t.path ?? `${t.host}:${t.port}`;
    return c as Choice & { target: Target };
  }

  /** A TCP connection, or with `secure` a TLS client connection (BackendTLSPolicy re-encryption). */
  private connect(t: Target, secure: tls.ConnectionOptions | null = null): net.Socket {
    const where = t.path !== undefined ? { path: t.path } : { host: t.host, port: t.port! };
    const backend =
      secure !== null
        ? tls.connect({ ...secure, ...where })
        : t.path !== undefined
          ? net.connect({ path: t.path, allowHalfOpen: true })
          : net.connect({ host: t.host, port: t.port!, allowHalfOpen: true, noDelay: true });
    this.track(backend);
    backend.setTimeout(CONNECT_TIMEOUT_MS, () => backend.destroy(new Error("connect timeout")));
    return backend;
  }

  /**
   * Relays `client` <-> `backend` until both are closed, then counts bytes and logs the session.
   * Raw TCP pairs go to spliceSockets (the kernel may take them over); a terminated TLS session's
   * plaintext only exists in this process, so it is always piped here (a TLSSocket exposes the raw
   * socket's fd, which a kernel splice would wrongly relay as is).
   */
  private relay(client: net.Socket, backend: net.Socket, s: SessionInfo, route: CompiledL4Route, c: Choice): void {
    if (c.backend.cells) c.backend.cells.ok.n++;
    const st = route.stats;
    st.active.n++;
    const done = (bytes: SpliceStats): void => {
      st.active.n--;
      st.bytesIn.n += bytes.up;
      st.bytesOut.n += bytes.down;
      logSession(this.log, s, "ok", bytes.up, bytes.down);
    };
    if (client instanceof tls.TLSSocket) pipePlaintext(client, backend, done);
    else spliceSockets(client, backend, done);
  }

  private forward(client: net.Socket, s: SessionInfo, route: CompiledL4Route, head: Buffer | null): void {
    const c = this.choose(client, s, route);
    if (c === null) return;
    const backend = this.connect(c.target);
    const onConnectError = (): void => {
      // Connect failure: the client learns by its connection closing.
      backend.destroy();
      client.destroy();
      if (c.backend.cells) c.backend.cells.connectError.n++;
      logSession(this.log, s, "connect_error", 0, 0);
    };
    backend.once("error", onConnectError);
    backend.once("connect", () => {
      backend.setTimeout(0);
      backend.off("error", onConnectError);
      if (client.destroyed) {
        backend.destroy();
        return;
      }
      client.setNoDelay(true);
      if (head && head.length > 0) backend.write(head);
      // The relay starts reading (pipe), or leaves reading to the kernel splice.
      this.relay(client, backend, s, route, c);
    });
  }

  /**
   * TLS Terminate: the ClientHello already read goes back in front of the socket's data and a TLS
   * server socket takes over. The backend is connected while the handshake runs; the relay starts
   * once both are ready, and either failing closes the other.
   */
  private terminate(client: net.Socket, s: SessionInfo, route: CompiledL4Route, m: SniMatch, hello: Buffer): void {
    const c = this.choose(client, s, route);
    if (c === null) return;
    const context = m.terminate!.select(s.sni ?? "");
    const btls = c.backend.tls;
    // A BackendTLSPolicy that cannot be applied (e.g. no valid CA): never fall back to plaintext.
    if (context === null || btls?.error) return this.refuse(client, s, route.stats.result(c.backend.name ?? "", "tls_error"), "tls_error");
    client.unshift(hello);
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext: context });
    const backend = this.connect(c.target, btls ? btls.options : null);
    const timer = setTimeout(() => fail("tls_error"), HELLO_TIMEOUT_MS);
    let pending = 2;
    let failed = false;
    const fail = (result: L4Result): void => {
      if (failed || pending === 0) return;
      failed = true;
      clearTimeout(timer);
      secure.destroy();
      client.destroy();
      backend.destroy();
      if (result === "connect_error") {
        if (c.backend.cells) c.backend.cells.connectError.n++;
      } else route.stats.result(c.backend.name ?? "", result).n++;
      logSession(this.log, s, result, 0, 0);
    };
    const ready = (): void => {
      if (failed || --pending > 0) return;
      clearTimeout(timer);
      secure.off("error", onTlsError);
      backend.off("error", onConnectError);
      this.relay(secure, backend, s, route, c);
    };
    const onTlsError = (): void => fail("tls_error");
    // A backend certificate that fails the policy's checks counts as a TLS error, not a connect error.
    const onConnectError = (err: Error): void => fail(btls && tlsFailure(err) !== null ? "tls_error" : "connect_error");
    secure.on("error", onTlsError);
    secure.once("close", () => fail("tls_error"));
    secure.once("secure", ready);
    backend.once("error", onConnectError);
    backend.once(btls ? "secureConnect" : "connect", () => {
      backend.setTimeout(0);
      backend.setNoDelay(true);
      ready();
    });
  }

  listen(host: string | undefined): Promise<string | null> {
    return listenOn(this.server, this.current.port, host, `l4 listener ${this.current.name}`);
  }

  /** Stop accepting; established connections get `graceMs` to finish, then are dropped. */
  close(graceMs: number): Promise<void> {
    if (this.closing) return this.closing;
    this.server.close();
    this.closing = drainConnections(
      graceMs,
      () => this.sockets.size === 0,
      () => {
        for (const s of this.sockets) s.destroy();
      },
    );
    return this.closing;
  }
}

/**
 * Userspace relay for a terminated TLS session: pipe() gives back-pressure and ends the other
 * side's write half on a FIN (half-close); an error or reset on either side destroys both; `done`
 * once both are closed.
 */
function pipePlaintext(client: tls.TLSSocket, backend: net.Socket, done: (stats: SpliceStats) => void): void {
  const stats: SpliceStats = { up: 0, down: 0 };
  client.on("data", (c: Buffer) => (stats.up += c.length));
  backend.on("data", (c: Buffer) => (stats.down += c.length));
  client.pipe(backend);
  backend.pipe(client);
  const fail = (): void => {
    client.destroy();
    backend.destroy();
  };
  client.on("error", fail);
  backend.on("error", fail);
  let closed = 0;
  const onClose = (hadError: boolean): void => {
    if (hadError) fail();
    if (++closed === 2) done(stats);
  };
  client.on("close", onClose);
  backend.on("close", onClose);
}
