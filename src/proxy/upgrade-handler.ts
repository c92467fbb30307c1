// HTTP/1.1 Upgrade requests (WebSocket): the same routing decision as ordinary requests
// (route-request.ts); the answer for a forward is a raw socket pipe to one endpoint of the backend.
import { STATUS_CODES, type default as http } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { CompiledListener } from "./compiled.js";
import type { CompiledRedirect } from "./filters/request-redirect.js";
import { prepareUpstream, upstreamHeaders } from "./exchange.js";
import { headerSet } from "./headers.js";
import { hostOf } from "./hostname.js";
import { finishRequest } from "./request-log.js";
import { classify } from "./upstream/errors.js";
import { routeRequest, type RoutedRequest } from "./route-request.js";
import { clientIpOf, GuardRun, type GuardReply } from "./guards.js";
import { pipeUpgrade } from "./upstream/upgrade.js";
import type { RequestCounters } from "../observe/proxy-metrics.js";

function rawResponse(socket: Duplex, status: number, body: string | Buffer, extra = ""): number {
  const reason = STATUS_CODES[status] ?? "Unknown";
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
    const sni = L.tls !== null ? (socket as TLSSocket).servername : undefined;
    const routed = routeRequest(L, hostOf(authority), typeof sni === "string" ? sni : undefined, req.method ?? "GET", req.url ?? "/", req.headers);
    const d = routed.decision;
    if (d.kind === "reply" || d.route.guards === null) return answerUpgrade(L, req, socket, head, authority, routed, null, done);
    const run = new GuardRun(req, false, req.method ?? "GET", routed.host, routed.path, routed.query, clientIpOf(req), req.headers, d.route, L);
    const r = d.route;
    const reply = (v: GuardReply): void => {
      const extra = [...(v.headers ?? []), ...(run.responseAdd ?? [])];
      let lines = "";
      for (let i = 0; i + 1 < extra.length; i += 2) lines += `${extra[i]}: ${extra[i + 1]}\r\n`;
      done(v.status, rawResponse(socket, v.status, v.body, lines), r.name, null, r.counters);
    };
    const v = run.run(r.guards!);
    if (v === null) return answerUpgrade(L, req, socket, head, authority, routed, run, done);
    if (!(v instanceof Promise)) return reply(v);
    v.then(
      (verdict) => {
        if (socket.destroyed) done(499, 0, r.name, null, r.counters);
        else if (verdict === null) answerUpgrade(L, req, socket, head, authority, routed, run, done);
        else reply(verdict);
      },
      () => reply({ status: 500, body: "internal error in request check\n" }),
    );
  } catch (err) {
    process.stderr.write(`sluice: upgrade handling error: ${(err as Error)?.stack ?? String(err)}\n`);
    socket.destroy();
    done(500, 0, null, null, L.notFound);
  }
}

type Done = (status: number, bytes: number, route: string | null, backend: string | null, counters: RequestCounters) => void;

function answerUpgrade(L: CompiledListener, req: http.IncomingMessage, socket: Duplex, head: Buffer, authority: string, routed: RoutedRequest, run: GuardRun | null, done: Done): void {
  try {
    const { host, path, query, decision: d } = routed;
    if (d.kind === "reply") return done(d.status, rawResponse(socket, d.status, d.body), d.route?.name ?? null, d.backendLabel, d.counters);
    if (d.kind === "redirect") return done(d.redirect.status, rawRedirect(socket, d.redirect, host, path, query), d.route.name, null, d.route.counters);
    const r = d.route;
    if (d.kind === "direct") return done(r.directStatus, rawResponse(socket, r.directStatus, r.directBody.toString()), r.name, null, r.counters);
    const backend = d.backend;
    const ep = backend.cluster!.pick(req);
    if (ep === null) {
      backend.counters.error("no_endpoint");
      return done(503, rawResponse(socket, 503, `${backend.cluster!.unavailable()}\n`), r.name, backend.label, backend.counters);
    }
    const headers = upstreamHeaders(req, false, L.scheme, authority);
    const upstreamPath = prepareUpstream(backend, headers, path, run?.upstreamQuery ?? query);
    if (run !== null) run.applyUpstream(headers);
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
