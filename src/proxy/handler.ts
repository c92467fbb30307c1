// Entry of every HTTP request: listener isolation by Host, 421 on SNI/Host mismatch, virtual host,
// route, then the route's action. Runs against the compiled listener captured when it started.
import type { TLSSocket } from "node:tls";
import { ACTION_DIRECT, ACTION_REDIRECT, type CompiledListener } from "./compiled.js";
import { Exchange, exchangeOf, prepareUpstream, upstreamHeaders } from "./exchange.js";
import { hostOf } from "./hostname.js";
import { finishRequest } from "./request-log.js";
import { sendSimple, type Req, type Res } from "./respond.js";

export function handleRequest(L: CompiledListener, req: Req, res: Res): void {
  const start = performance.now();
  L.snapshot.inflight++;
  const isH2 = req.httpVersionMajor === 2;
  try {
    route(L, req, res, isH2, start);
  } catch (err) {
    // A bug must cost one request, never the worker.
    process.stderr.write(`sluice: request handling error: ${(err as Error)?.stack ?? String(err)}\n`);
    if (!res.headersSent) {
      try {
        sendSimple(res, isH2, 500, "internal error\n", null, null);
      } catch {
        res.destroy();
      }
    } else res.destroy();
    const ex = exchangeOf(res);
    if (ex === undefined) finishRequest(L, req, isH2, start, 500, 0, null, null, 0, L.notFound, null);
    else ex.abandon(500);
  }
}

function route(L: CompiledListener, req: Req, res: Res, isH2: boolean, start: number): void {
  const h = req.headers;
  const authority = (isH2 ? (h[":authority"] as string | undefined) ?? h.host : h.host) ?? "";
  const host = hostOf(authority);
  const gw = L.gateways.lookup(host);
  if (gw === null) {
    const n = sendSimple(res, isH2, 404, "no listener for this host\n", null, null);
    finishRequest(L, req, isH2, start, 404, n, null, null, 0, L.notFound, null);
    return;
  }
  if (L.tls !== null) {
    const sni = (req.socket as TLSSocket | undefined)?.servername;
    if (typeof sni === "string" && sni.length > 0) {
      const sniGw = L.gateways.lookup(sni.toLowerCase());
      if (sniGw !== null && sniGw !== gw) {
        const n = sendSimple(res, isH2, 421, "misdirected request\n", null, null);
        finishRequest(L, req, isH2, start, 421, n, null, null, 0, gw.notFound, null);
        return;
      }
    }
  }
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? "" : url.slice(q + 1);
  const method = req.method ?? "GET";
  const table = gw.vhosts.lookup(host);
  const r = table === null ? null : table.match(method, path, query, h);
  if (r === null) {
    const n = sendSimple(res, isH2, 404, "no route\n", null, null);
    finishRequest(L, req, isH2, start, 404, n, null, null, 0, gw.notFound, null);
    return;
  }
  if (r.action === ACTION_REDIRECT) {
    const loc = r.redirect!.location(host, path, query);
    const n = sendSimple(res, isH2, r.redirect!.status, "", ["location", loc], r.responseEdit);
    finishRequest(L, req, isH2, start, r.redirect!.status, n, r.name, null, 0, r.counters, r.duration);
    return;
  }
  if (r.action === ACTION_DIRECT) {
    const n = sendSimple(res, isH2, r.directStatus, r.directBody, null, r.responseEdit);
    finishRequest(L, req, isH2, start, r.directStatus, n, r.name, null, 0, r.counters, r.duration);
    return;
  }
  const backend = r.backends.pick();
  if (backend === null || backend.cluster === null) {
    // No backends, or this share's backendRef did not resolve: 500 as the spec says.
    const counters = backend?.counters ?? r.counters;
    counters.error("unresolved");
    const n = sendSimple(res, isH2, 500, "backend not resolved\n", null, null);
    finishRequest(L, req, isH2, start, 500, n, r.name, backend?.label ?? null, 0, counters, r.duration);
    return;
  }
  const headers = upstreamHeaders(req, isH2, L.scheme, authority);
  const upstreamPath = prepareUpstream(backend, headers, path, query);
  new Exchange(L, req, res, isH2, start, r, backend, method, upstreamPath, headers).run();
}
