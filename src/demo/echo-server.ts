// An echo backend in the style of the Gateway API conformance "echo-basic" server: it answers every
// request with a JSON description of what it received, so routing and filters can be checked from
// the client side. Used by the quickstart (--demo-backends) and by the test suites.
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export interface EchoOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  namespace?: string;
  /** Identity reported back, like the conformance suite's pod name. */
  pod?: string;
  service?: string;
  /** Serve h2c (HTTP/2 prior knowledge) instead of HTTP/1.1. */
  h2c?: boolean;
  /** Serve HTTPS (HTTP/1.1) with this certificate; requests then record the SNI they came with. */
  tls?: { certPem: string; keyPem: string };
  /**
   * HTTP/1.1 only: sees every recorded request first and returns true when it answered (or broke)
   * the request itself; tests use it to simulate misbehaving backends.
   */
  intercept?: (rec: EchoRequest, req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export interface EchoRequest {
  method: string;
  path: string;
  host: string;
  proto: string;
  headers: Record<string, string[]>;
  body: string;
  /** TLS servers only: the server name (SNI) the client sent, "" when none. */
  sni?: string;
}

/** The JSON body the echo server answers with. */
export interface EchoResponse extends EchoRequest {
  namespace: string;
  pod: string;
  service: string;
}

export interface EchoServer {
  port: number;
  host: string;
  /** Every request received, in order (bounded to the last 10,000). */
  requests: EchoRequest[];
  close(): Promise<void>;
}

const MAX_RECORDED = 10_000;

function headerMap(raw: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(":")) continue;
    (out[name] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/**
 * Request headers that steer the echo server (for tests):
 *   x-echo-status: 503             answer with this status
 *   x-echo-delay-ms: 200           wait before answering
 *   x-echo-set-header: a:1,b:2     add these response headers
 *   x-echo-body-bytes: 65536       answer with this many bytes of "x" instead of JSON
 */
function respond(
  opts: Required<Pick<EchoOptions, "namespace" | "pod" | "service">>,
  rec: EchoRequest,
  send: (status: number, headers: Record<string, string>, body: string | Buffer) => void,
): void {
  const first = (n: string): string | undefined => rec.headers[n]?.[0];
  const status = Number(first("x-echo-status") ?? 200) || 200;
  const delay = Math.min(Number(first("x-echo-delay-ms") ?? 0) || 0, 60_000);
  const headers: Record<string, string> = { "content-type": "application/json" };
  const set = first("x-echo-set-header");
  if (set) {
    for (const pair of set.split(",")) {
      const i = pair.indexOf(":");
      if (i > 0) headers[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
    }
  }
  const bodyBytes = Number(first("x-echo-body-bytes") ?? 0) || 0;
  let body: string | Buffer;
  if (bodyBytes > 0) {
    headers["content-type"] = "application/octet-stream";
    body = Buffer.alloc(Math.min(bodyBytes, 64 * 1024 * 1024), "x");
  } else {
    const res: EchoResponse = { ...rec, namespace: opts.namespace, pod: opts.pod, service: opts.service };
    body = JSON.stringify(res);
  }
  if (delay > 0) setTimeout(() => send(status, headers, body), delay);
  else send(status, headers, body);
}

export async function startEchoServer(options: EchoOptions = {}): Promise<EchoServer> {
  const ident = {
    namespace: options.namespace ?? "default",
    pod: options.pod ?? "echo",
    service: options.service ?? "echo",
  };
  const requests: EchoRequest[] = [];
  const record = (r: EchoRequest): void => {
    requests.push(r);
    if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);
  };

  let server: http.Server | http2.Http2Server;
  if (options.h2c) {
    const s = http2.createServer();
    s.on("stream", (stream: http2.ServerHttp2Stream, hdrs: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const rec: EchoRequest = {
          method: String(hdrs[":method"]),
          path: String(hdrs[":path"]),
          host: String(hdrs[":authority"] ?? hdrs["host"] ?? ""),
          proto: "HTTP/2.0",
          headers: headerMap(rawHeaders),
          body: Buffer.concat(chunks).toString("utf8"),
        };
        record(rec);
        respond(ident, rec, (status, headers, body) => {
          if (stream.destroyed) return;
          stream.respond({ ":status": status, ...headers });
          stream.end(body);
        });
      });
    });
    server = s;
  } else {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const rec: EchoRequest = {
          method: req.method ?? "",
          path: req.url ?? "",
          host: req.headers.host ?? "",
          proto: `HTTP/${req.httpVersion}`,
          headers: headerMap(req.rawHeaders),
          body: Buffer.concat(chunks).toString("utf8"),
        };
        if (options.tls) rec.sni = (req.socket as TLSSocket).servername || "";
        record(rec);
        if (options.intercept?.(rec, req, res)) return;
        respond(ident, rec, (status, headers, body) => {
          if (res.destroyed) return;
          res.writeHead(status, headers);
          res.end(body);
        });
      });
    };
    const s = options.tls ? https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, onRequest) : http.createServer(onRequest);
    s.keepAliveTimeout = 65_000;
    // WebSocket: echo every message back, prefixed with the pod name so tests can see who answered.
    const wss = new WebSocketServer({ noServer: true });
    s.on("upgrade", (req, socket, head) => {
      const rec: EchoRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        host: req.headers.host ?? "",
        proto: `HTTP/${req.httpVersion}`,
        headers: headerMap(req.rawHeaders),
        body: "",
      };
      if (options.tls) rec.sni = (socket as TLSSocket).servername || "";
      record(rec);
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on("message", (data, isBinary) => {
          if (isBinary) ws.send(data, { binary: true });
          else ws.send(`${ident.pod}: ${String(data)}`);
        });
      });
    });
    server = s;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (s: import("node:net").Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    port: addr.port,
    host: addr.address,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
