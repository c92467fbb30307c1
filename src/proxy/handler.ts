// Entry of every HTTP request: the routing decision (route-request.ts), then its answer: a reply,
// a redirect, a direct response, or an exchange with the backend. Runs against the compiled
// listener captured when it started.
import type { TLSSocket } from "node:tls";
import type { CompiledListener } from "./compiled.js";
import { Exchange, exchangeOf, prepareUpstream, upstreamHeaders } from "./exchange.js";
import { hostOf } from "./hostname.js";
import { finishRequest } from "./request-log.js";
import { sendSimple, type Req, type Res } from "./respond.js";
import { routeRequest } from "./route-request.js";

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
  const sni = L.tls !== null ? (req.socket as TLSSocket | undefined)?.servername : undefined;
  const method = req.method ?? "GET";
  const { host, path, query, decision: d } = routeRequest(L, hostOf(authority), typeof sni === "string" ? sni : undefined, method, req.url ?? "/", h);
  switch (d.kind) {
    case "reply": {
      const n = sendSimple(res, isH2, d.status, d.body, null, null);
      finishRequest(L, req, isH2, start, d.status, n, d.route?.name ?? null, d.backendLabel, 0, d.counters, d.route?.duration ?? null);
      return;
    }
    case "redirect": {
      const rd = d.redirect;
      const n = sendSimple(res, isH2, rd.status, "", ["location", rd.location(host, path, query)], d.edit);
      finishRequest(L, req, isH2, start, rd.status, n, d.route.name, null, 0, d.route.counters, d.route.duration);
      return;
    }
    case "direct": {
      const r = d.route;
      const n = sendSimple(res, isH2, r.directStatus, r.directBody, null, r.responseEdit);
      finishRequest(L, req, isH2, start, r.directStatus, n, r.name, null, 0, r.counters, r.duration);
      return;
    }
    case "forward": {
      const headers = upstreamHeaders(req, isH2, L.scheme, authority);
      const upstreamPath = prepareUpstream(d.backend, headers, path, query);
      new Exchange(L, req, res, isH2, start, d.route, d.backend, method, upstreamPath, headers).run();
    }
  }
}
