// Routing of HTTP/1.1 Upgrade requests (WebSocket). Same tables as ordinary requests; the answer
// for a forward is a raw socket pipe to one endpoint of the chosen backend.
import type http from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { ACTION_DIRECT, ACTION_REDIRECT, type CompiledListener } from "./compiled.js";
import type { CompiledRedirect } from "./filters/request-redirect.js";
import { prepareUpstream, upstreamHeaders } from "./exchange.js";
import { headerSet } from "./headers.js";
import { hostOf } from "./hostname.js";
import { finishRequest } from "./request-log.js";
import { classify } from "./upstream/errors.js";
import { pipeUpgrade } from "./upstream/upgrade.js";
import type { RequestCounters } from "../observe/proxy-metrics.js";

const REASONS: Record<number, string> = { 404: "Not Found", 421: "Misdirected Request", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" };

function rawResponse(socket: Duplex, status: number, body: string, extra = ""): number {
  const reason = REASONS[status] ?? "Redirect";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
  );
  return Buffer.byteLength(body);
}

function rawRedirect(socket: Duplex, rd: CompiledRedirect, host: string, path: string, query: string): number {
  return rawResponse(socket, rd.status, "", `location: ${rd.location(host, path, query)}\r\n`);
}

export function handleUpgrade(L: CompiledListener, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const start = performance.now();
  L.snapshot.inflight++;
  socket.on("error", () => socket.destroy());
  const done = (status: number, bytes: number, route: string | null, backend: string | null, counters: RequestCounters): void =>
    finishRequest(L, req, false, start, status, bytes, route, backend, 0, counters, null);
  try {
    const authority = req.headers.host ?? "";
    const host = hostOf(authority);
    const gw = L.gateways.lookup(host);
    if (gw === null) return done(404, rawResponse(socket, 404, "no listener for this host\n"), null, null, L.notFound);
    if (L.tls !== null) {
      const sni = (socket as TLSSocket).servername;
      const sniGw = typeof sni === "string" && sni ? L.gateways.lookup(sni.toLowerCase()) : null;
      if (sniGw !== null && sniGw !== gw) return done(421, rawResponse(socket, 421, "misdirected request\n"), null, null, gw.notFound);
    }
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? "" : url.slice(q + 1);
    const r = gw.vhosts.lookup(host)?.match(req.method ?? "GET", path, query, req.headers) ?? null;
    if (r === null) return done(404, rawResponse(socket, 404, "no route\n"), null, null, gw.notFound);
    if (r.action === ACTION_REDIRECT) {
      return done(r.redirect!.status, rawRedirect(socket, r.redirect!, host, path, query), r.name, null, r.counters);
    }
    if (r.action === ACTION_DIRECT) {
      return done(r.directStatus, rawResponse(socket, r.directStatus, r.directBody.toString()), r.name, null, r.counters);
    }
    const backend = r.backends.pick();
    if (backend === null || backend.cluster === null) {
      (backend?.counters ?? r.counters).error("unresolved");
      return done(500, rawResponse(socket, 500, "backend not resolved\n"), r.name, null, backend?.counters ?? r.counters);
    }
    if (backend.redirect !== null) {
      return done(backend.redirect.status, rawRedirect(socket, backend.redirect, host, path, query), r.name, null, r.counters);
    }
    const ep = backend.cluster.pick();
    if (ep === null) {
      backend.counters.error("no_endpoint");
      return done(503, rawResponse(socket, 503, "no healthy upstream\n"), r.name, backend.label, backend.counters);
    }
    const headers = upstreamHeaders(req, false, L.scheme, authority);
    const upstreamPath = prepareUpstream(backend, headers, path, query);
    headerSet(headers, "connection", "upgrade");
    headerSet(headers, "upgrade", String(req.headers.upgrade ?? "websocket"));
    pipeUpgrade(
      ep, req.method ?? "GET", upstreamPath, headers, socket, head,
      (err) => {
        backend.counters.error(classify(err));
        done(503, rawResponse(socket, 503, "upstream connect error\n"), r.name, ep.label, backend.counters);
      },
      (bytes) => done(101, bytes, r.name, ep.label, backend.counters),
    );
  } catch (err) {
    process.stderr.write(`sluice: upgrade handling error: ${(err as Error)?.stack ?? String(err)}\n`);
    socket.destroy();
    done(500, 0, null, null, L.notFound);
  }
}
