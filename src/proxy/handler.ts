// Entry of every HTTP request: listener isolation by Host, 421 on SNI/Host mismatch, virtual host,
// route, then the route's action (for a forward, the backendRef picked, which may itself redirect).
// Runs against the compiled listener captured when it started.
import type { TLSSocket } from "node:tls";
import { ACTION_DIRECT, ACTION_REDIRECT, type CompiledListener, type CompiledRoute } from "./compiled.js";
import type { HeaderEdit } from "./filters/header-mods.js";
import type { CompiledRedirect } from "./filters/request-redirect.js";
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
    redirect(L, req, res, isH2, start, r, r.redirect!, r.responseEdit, host, path, query);
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
  if (backend.redirect !== null) {
    redirect(L, req, res, isH2, start, r, backend.redirect, backend.responseEdit, host, path, query);
    return;
  }
  const headers = upstreamHeaders(req, isH2, L.scheme, authority);
  const upstreamPath = prepareUpstream(backend, headers, path, query);
  new Exchange(L, req, res, isH2, start, r, backend, method, upstreamPath, headers).run();
}

/** A redirect made by the gateway: the rule's action, or the filter of the backendRef picked. */
function redirect(
  L: CompiledListener,
  req: Req,
  res: Res,
  isH2: boolean,
  start: number,
  r: CompiledRoute,
  rd: CompiledRedirect,
  edit: HeaderEdit | null,
  host: string,
  path: string,
  query: string,
): void {
  const n = sendSimple(res, isH2, rd.status, "", ["location", rd.location(host, path, query)], edit);
  finishRequest(L, req, isH2, start, rd.status, n, r.name, null, 0, r.counters, r.duration);
}
