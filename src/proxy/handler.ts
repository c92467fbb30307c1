// Entry of every HTTP request: the routing decision (route-request.ts), then its answer: a reply,
// a redirect, a direct response, or an exchange with the backend. Runs against the compiled
// listener captured when it started.
import type { TLSSocket } from "node:tls";
import type { CompiledListener, CompiledRoute } from "./compiled.js";
import { Exchange, exchangeOf, prepareUpstream, upstreamHeaders } from "./exchange.js";
import { hostOf } from "./hostname.js";
import { grpcCodeFor, isGrpcRequest, sendGrpcStatus } from "./grpc.js";
import { finishRequest } from "./request-log.js";
import { sendSimple, type Req, type Res } from "./respond.js";
import { routeRequest, type RoutedRequest } from "./route-request.js";
import { clientIpOf, GuardRun, type GuardReply } from "./guards.js";

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
  const routed = routeRequest(L, hostOf(authority), typeof sni === "string" ? sni : undefined, method, req.url ?? "/", h);
  const d = routed.decision;
  if (d.kind === "reply" || d.route.guards === null) return answer(L, req, res, isH2, start, authority, method, routed, null);
  const run = new GuardRun(req, isH2, method, routed.host, routed.path, routed.query, clientIpOf(req), h, d.route, L);
  const v = run.run(d.route.guards);
  if (v === null) return answer(L, req, res, isH2, start, authority, method, routed, run);
  if (!(v instanceof Promise)) return guardReply(L, req, res, isH2, start, d.route, v, run);
  v.then(
    (verdict) => {
      if (res.destroyed || res.writableEnded) {
        // The client left while the checks ran: nothing to answer.
        finishRequest(L, req, isH2, start, 499, 0, d.route.name, null, 0, d.route.counters, d.route.duration);
      } else if (verdict === null) answer(L, req, res, isH2, start, authority, method, routed, run);
      else guardReply(L, req, res, isH2, start, d.route, verdict, run);
    },
    (err: unknown) => guardReply(L, req, res, isH2, start, d.route, { status: 500, body: `internal error: ${String(err)}\n` }, run),
  );
}

function guardReply(L: CompiledListener, req: Req, res: Res, isH2: boolean, start: number, r: CompiledRoute, v: GuardReply, run: GuardRun): void {
  const extra = v.headers ? [...v.headers] : [];
  if (run.responseAdd !== null) extra.push(...run.responseAdd);
  const n = isGrpcRequest(req.headers) ? sendGrpcStatus(res, isH2, grpcCodeFor(v.status), String(v.body), extra) : sendSimple(res, isH2, v.status, v.body, extra, null);
  finishRequest(L, req, isH2, start, v.status, n, r.name, null, 0, r.counters, r.duration);
}

function answer(L: CompiledListener, req: Req, res: Res, isH2: boolean, start: number, authority: string, method: string, routed: RoutedRequest, run: GuardRun | null): void {
  const { host, path, query, decision: d } = routed;
  const extra = run?.responseAdd ?? null;
  switch (d.kind) {
    case "reply": {
      // gRPC clients get a grpc-status; metrics and the log keep the HTTP status it stands for.
      const n = isGrpcRequest(req.headers) ? sendGrpcStatus(res, isH2, grpcCodeFor(d.status), d.body, null) : sendSimple(res, isH2, d.status, d.body, null, null);
      finishRequest(L, req, isH2, start, d.status, n, d.route?.name ?? null, d.backendLabel, 0, d.counters, d.route?.duration ?? null);
      return;
    }
    case "redirect": {
      const rd = d.redirect;
      const n = sendSimple(res, isH2, rd.status, "", ["location", rd.location(host, path, query), ...(extra ?? [])], d.edit);
      finishRequest(L, req, isH2, start, rd.status, n, d.route.name, null, 0, d.route.counters, d.route.duration);
      return;
    }
    case "direct": {
      const r = d.route;
      const n = isGrpcRequest(req.headers)
        ? sendGrpcStatus(res, isH2, grpcCodeFor(r.directStatus), r.directBody.length > 0 ? r.directBody.toString() : "no usable backend for this route", extra)
        : sendSimple(res, isH2, r.directStatus, r.directBody, extra === null ? null : [...extra], r.responseEdit);
      finishRequest(L, req, isH2, start, r.directStatus, n, r.name, null, 0, r.counters, r.duration);
      return;
    }
    case "forward": {
      const headers = upstreamHeaders(req, isH2, L.scheme, authority);
      const upstreamPath = prepareUpstream(d.backend, headers, path, run?.upstreamQuery ?? query);
      if (run !== null) run.applyUpstream(headers);
      const ex = new Exchange(L, req, res, isH2, start, d.route, d.backend, method, upstreamPath, headers);
      ex.extraResponse = extra;
      ex.run();
    }
  }
}
