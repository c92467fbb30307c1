// One bound port: a node:http server (HTTP) that also speaks h2c with prior knowledge and serves
// simple HTTP/1.1 requests on its own fast path (h1/), or an HTTP/2 secure server with HTTP/1.1
// fallback (HTTPS). Requests read `current`, which apply() swaps; each request keeps the one it
// started with. All of them share one request handler.
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import type { CompiledListener } from "./compiled.js";
import { admitConnection } from "./conn-policy.js";
import { sniffH2c } from "./h2c-sniff.js";
import { FastH1Connection, type FastH1Port } from "./h1/connection.js";
import type { Req, Res } from "./respond.js";
import { handleRequest } from "./handler.js";
import { drainConnections, listenOn } from "./server-lifecycle.js";
import { handleUpgrade } from "./upgrade-handler.js";
import { handleConnect } from "./h2-websocket.js";
import { portLimitReply, upgradeLimitReply } from "./guards/request-limits.js";
import { setClientCertMode } from "./tls.js";

/** node:http's default maxHeadersCount. */
const NODE_MAX_HEADERS_COUNT = 2000;

/** HTTP/2 header fields per request node accepts; the configured count is enforced per request. */
const H2_MAX_HEADER_PAIRS = 16_385;

/** The port's header size for node's HTTP/1.1 parser (it answers 431 above it); the count is checked per request. */
function h1HeaderLimits(s: http.Server | http2.Http2SecureServer, L: CompiledListener): void {
  if (L.limits === undefined) return;
  const h1 = s as { maxHeaderSize?: number; maxHeadersCount?: number | null };
  h1.maxHeaderSize = L.limits.maxHeaderBytes;
  // One field more than allowed is kept, so that too many fields are seen (node drops the rest silently).
  h1.maxHeadersCount = L.limits.maxRawHeaders / 2 + 1;
}

/**
 * HTTP/2 header list size advertised to clients: twice the limit plus HPACK's 32 bytes a field, so
 * a list somewhat over the limit still arrives and gets its 431 (checked per request); far larger
 * ones are refused by the HTTP/2 layer (REFUSED_STREAM).
 */
function h2HeaderSettings(L: CompiledListener): http2.Settings {
  if (L.limits === undefined) return {};
  return { maxHeaderListSize: 2 * L.limits.maxHeaderBytes + 32 * (L.limits.maxRawHeaders / 2 + 1) };
}

export class PortServer {
  readonly server: http.Server | http2.Http2SecureServer;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 connections on the fast path. */
  private readonly fast = new Set<FastH1Connection>();
  /** Plain-text connections whose protocol is not known yet. */
  private readonly sniffing = new Set<net.Socket>();
  private defaultPem: { cert: string; key: string; ca?: string } | null = null;
  /** The HTTP/2 (prior knowledge) server of a plain-text port. */
  private h2c: http2.Http2Server | null = null;
  closing: Promise<void> | null = null;

  constructor(public current: CompiledListener) {
    const onRequest = (req: Req, res: Res): void => {
      const L = this.current;
      // Header count and target length over the port's limits: 431/414 before routing.
      if (L.limits !== undefined && portLimitReply(L, req, res, L.limits)) return;
      handleRequest(L, req, res);
    };
    const onUpgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer): void => {
      const L = this.current;
      if (L.limits !== undefined && upgradeLimitReply(req, socket, L.limits)) return;
      handleUpgrade(L, req, socket, head);
    };
    // WebSocket over HTTP/2 (RFC 8441): advertised in SETTINGS, answered on 'connect'.
    const onConnect = (req: http2.Http2ServerRequest | http.IncomingMessage, res: http2.Http2ServerResponse | net.Socket): void =>
      handleConnect(this.current, req, res);
    const h2Settings: http2.Settings = { enableConnectProtocol: true, ...h2HeaderSettings(current) };
    if (current.protocol === "HTTPS") {
      const pem = current.tls!.defaultPem!;
      this.defaultPem = pem;
      const s = http2.createSecureServer({
        // TCP_NODELAY at accept, as node:http's plain server does: tls.Server leaves Nagle on, and a
        // response streamed in small writes then waits for the client's delayed ACKs (HTTP/2
        // sessions set it themselves; HTTP/1.1 over TLS would not).
        noDelay: true,
        allowHTTP1: true,
        settings: h2Settings,
        maxHeaderListPairs: H2_MAX_HEADER_PAIRS,
        ...pem,
        requestCert: current.tls!.requestCert,
        rejectUnauthorized: current.tls!.rejectUnauthorized,
        SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
          const ctx = this.current.tls?.select(servername) ?? undefined;
          cb(null, ctx);
        },
      });
      s.on("request", onRequest);
      s.on("upgrade", onUpgrade);
      s.on("connect", onConnect);
      s.on("session", this.onSession);
      // node's own handler sets up HTTP/2 sessions and node:http's HTTP/1.1 fallback; TLS
      // connections that did not pick h2 start on the fast path instead.
      const nodeConnection = s.listeners("secureConnection")[0] as ((sock: net.Socket) => void) | undefined;
      if (nodeConnection === undefined) throw new Error("node:http2 server has no secureConnection handler");
      s.removeListener("secureConnection", nodeConnection);
      // node:http's fallback on this server advertises no Keep-Alive time; idle connections close after 65 s here.
      const fastPort = this.fastPort(onRequest, s, nodeConnection, 65_000, false);
      s.on("secureConnection", (sock: tls.TLSSocket) => {
        this.track(sock);
        if (sock.alpnProtocol === "h2") nodeConnection.call(s, sock);
        else this.fast.add(new FastH1Connection(sock, fastPort));
      });
      s.on("tlsClientError", () => {});
      // Network policy before the TLS handshake: a denied client is reset at accept.
      s.prependListener("connection", (sock: net.Socket) => void admitConnection(sock));
      this.server = s;
    } else {
      const s = http.createServer({ keepAliveTimeout: 65_000 }, onRequest);
      h1HeaderLimits(s, current);
      s.on("upgrade", onUpgrade);
      // The HTTP/1.1 server stays the one bound to the port (it keeps its connection tracking and
      // timeouts); its own connection handler runs only once the first bytes say HTTP/1.1.
      const h1Connection = s.listeners("connection")[0] as ((sock: net.Socket) => void) | undefined;
      if (h1Connection === undefined) throw new Error("node:http server has no connection handler");
      s.removeListener("connection", h1Connection);
      const h2 = http2.createServer({ settings: h2Settings, maxHeaderListPairs: H2_MAX_HEADER_PAIRS });
      this.h2c = h2;
      h2.on("request", onRequest);
      h2.on("connect", onConnect);
      h2.on("session", this.onSession);
      const fastPort = this.fastPort(onRequest, s, h1Connection, s.keepAliveTimeout, true);
      const dispatch = (sock: net.Socket, isH2: boolean): void => {
        this.sniffing.delete(sock);
        if (isH2) h2.emit("connection", sock);
        else this.fast.add(new FastH1Connection(sock, fastPort));
      };
      s.on("connection", (sock: net.Socket) => {
        if (!admitConnection(sock)) return;
        this.track(sock);
        this.sniffing.add(sock);
        sniffH2c(sock, s.headersTimeout, dispatch);
      });
      this.server = s;
    }
    if (!(this.server instanceof http.Server)) h1HeaderLimits(this.server, current);
  }

  /**
   * HTTP/1.1 connections start on the fast path (h1/connection.ts), which hands them to node's own
   * connection handler `nodeConnection` (of `server`) at the first request it does not take.
   */
  private fastPort(onRequest: FastH1Port["onRequest"], server: net.Server, nodeConnection: (sock: net.Socket) => void, keepAliveMs: number, advertiseKeepAlive: boolean): FastH1Port {
    return {
      onRequest,
      handOver: (sock) => {
        nodeConnection.call(server, sock);
        // The bytes read so far wait in the socket's buffer: let them flow to the parser.
        sock.resume();
      },
      forget: (c) => this.fast.delete(c),
      maxHeadBytes: () => this.current.limits?.maxHeaderBytes ?? http.maxHeaderSize,
      // As many fields as node's parser keeps (h1HeaderLimits), so both see the same request.
      maxFields: () => (this.current.limits !== undefined ? this.current.limits.maxRawHeaders / 2 + 1 : NODE_MAX_HEADERS_COUNT),
      keepAliveMs,
      advertiseKeepAlive,
    };
  }

  private readonly onSession = (session: http2.ServerHttp2Session): void => {
    this.sessions.add(session);
    session.on("close", () => this.sessions.delete(session));
    session.on("error", () => session.destroy());
  };

  private track(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on("close", () => {
      this.sockets.delete(sock);
      this.sniffing.delete(sock);
    });
  }

  /** Installs a new compiled listener; the default certificate is replaced without rebinding. */
  update(next: CompiledListener): void {
    this.current = next;
    const pem = next.tls?.defaultPem ?? null;
    if (pem && this.defaultPem && (pem.cert !== this.defaultPem.cert || pem.key !== this.defaultPem.key || pem.ca !== this.defaultPem.ca)) {
      (this.server as http2.Http2SecureServer).setSecureContext(pem);
      this.defaultPem = pem;
    }
    h1HeaderLimits(this.server, next);
    const settings = h2HeaderSettings(next);
    if (!(this.server instanceof http.Server)) {
      if (next.tls) setClientCertMode(this.server, next.tls);
      this.server.updateSettings(settings);
    }
    this.h2c?.updateSettings(settings);
  }

  listen(host: string | undefined): Promise<string | null> {
    return listenOn(this.server, this.current.port, host, `listener ${this.current.name}`);
  }

  /** Stop accepting, let requests in flight finish (bounded by graceMs), then drop what is left. */
  close(graceMs: number): Promise<void> {
    if (this.closing) return this.closing;
    const s = this.server;
    for (const session of this.sessions) session.close();
    const sweep = (): boolean => {
      // Fast-path connections (plain and TLS) know whether a response is in progress.
      for (const c of this.fast) if (c.idle) c.sock.destroy();
      if (s instanceof http.Server) {
        s.closeIdleConnections();
        // Nothing was asked on these yet (h2c sessions close themselves after GOAWAY).
        for (const sock of this.sniffing) sock.destroy();
      } else {
        // node:http's HTTP/1.1 connections on the TLS server: idle when no response is being written.
        const fastSockets = new Set(Array.from(this.fast, (c) => c.sock));
        for (const sock of this.sockets) if (!fastSockets.has(sock) && this.isIdleH1(sock)) sock.destroy();
      }
      return this.sockets.size === 0;
    };
    const force = (): void => {
      for (const session of this.sessions) session.destroy();
      for (const sock of this.sockets) sock.destroy();
      if (s instanceof http.Server) s.closeAllConnections();
    };
    this.closing = drainConnections(graceMs, sweep, force, (finish) => s.close(() => finish()));
    return this.closing;
  }

  private isIdleH1(sock: net.Socket): boolean {
    // node:http keeps the response being written on the socket; an HTTP/2 socket belongs to a
    // session that closes itself after GOAWAY.
    const tlsSock = sock as tls.TLSSocket;
    if (tlsSock.alpnProtocol === "h2") return false;
    return (sock as unknown as { _httpMessage?: unknown })._httpMessage == null;
  }
}
