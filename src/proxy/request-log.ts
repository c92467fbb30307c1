// The end of every request: metrics, access log line, in-flight accounting for graceful swaps.
import { flowRecorder } from "../observe/flow-recorder.js";
import type { RequestCounters } from "../observe/proxy-metrics.js";
import type { CompiledListener } from "./compiled.js";
import type { Req } from "./respond.js";


export function finishRequest(
  L: CompiledListener,
  req: Req,
  isH2: boolean,
  start: number,
  status: number,
  bytesOut: number,
  route: string | null,
  backend: string | null,
  upstreamStatus: number,
  counters: RequestCounters,
  duration: { observe(v: number): void } | null,
): void {
  const ms = performance.now() - start;
  counters.count(status);
  if (duration !== null) duration.observe(ms / 1000);
  // The flow stream's record of this request: a few field stores into a reused ring slot.
  flowRecorder.http(L, req, isH2, start, ms, status, bytesOut, route, backend, upstreamStatus, counters.backend);
  const snap = L.snapshot;
  if (snap.log.enabled) {
    const h = req.headers;
    const cl = h["content-length"];
    const rid = h["x-request-id"];
    snap.log.write({
      time: new Date(Date.now() - ms).toISOString(),
      method: req.method ?? "",
      authority: (isH2 ? (h[":authority"] as string | undefined) ?? h.host : h.host) ?? "",
      path: req.url ?? "",
      protocol: isH2 ? "HTTP/2" : `HTTP/${req.httpVersion}`,
      status,
      bytesIn: cl ? Number(cl) || 0 : 0,
      bytesOut,
      durationMs: Math.round(ms * 1000) / 1000,
      route,
      backend,
      upstreamStatus: upstreamStatus || null,
      requestId: typeof rid === "string" ? rid : null,
    });
  }
  if (--snap.inflight === 0 && snap.onIdle !== null) {
    const f = snap.onIdle;
    snap.onIdle = null;
    f();
  }
}
