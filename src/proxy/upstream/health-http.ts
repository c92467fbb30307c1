// Active HTTP health check: one request per probe (method, path, Host = the endpoint) on a fresh
// connection, healthy when the status is expected (200 by default) and, when configured, the body
// contains the expected bytes. h2c clusters are checked over HTTP/2, as their traffic goes.
import http from "node:http";
import https from "node:https";
import { errorText, probeOverH2, type Probe, type ProbeResult, type ProbeTarget } from "./health-probe.js";
import type { IrActiveHealthCheck } from "../../ir/types.js";

const MAX_BODY = 64 * 1024;

function verdict(status: number, body: Buffer, check: IrActiveHealthCheck): ProbeResult {
  const h = check.http!;
  const expected = h.expectedStatuses.length > 0 ? h.expectedStatuses : [200];
  if (!expected.includes(status)) return `HTTP ${status} from ${h.method} ${h.path} (expected ${expected.join(", ")})`;
  if (h.expectedBody !== undefined) {
    const want = Buffer.from(h.expectedBody.base64, "base64");
    if (body.indexOf(want) < 0) return `the response to ${h.method} ${h.path} does not contain the expected body`;
  }
  return null;
}

function probeH1(t: ProbeTarget, check: IrActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
  const h = check.http!;
  return new Promise((resolve) => {
    const opts: https.RequestOptions = {
      method: h.method,
      path: h.path,
      headers: { host: t.label, "user-agent": "sluice-health-check", connection: "close" },
      agent: false,
      signal,
      ...(t.socketPath !== null ? { socketPath: t.socketPath } : { host: t.host!, port: t.port }),
      ...(t.tls ?? {}),
    };
    const req = (t.tls !== null ? https : http).request(opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c);
        size += c.length;
      });
      res.on("end", () => resolve(verdict(res.statusCode ?? 0, Buffer.concat(chunks), check)));
      res.on("error", (err) => resolve(errorText(err)));
    });
    req.on("error", (err) => resolve(signal.aborted ? "timed out" : errorText(err)));
    req.end();
  });
}

function probeH2(t: ProbeTarget, check: IrActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
  const h = check.http!;
  return probeOverH2(t, signal, (session, done) => {
    const s = session.request({ ":method": h.method, ":path": h.path, ":authority": t.label, "user-agent": "sluice-health-check" });
    let status = 0;
    const chunks: Buffer[] = [];
    s.on("response", (rh) => (status = Number(rh[":status"])));
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => done(verdict(status, Buffer.concat(chunks), check)));
    s.on("error", (err) => done(errorText(err)));
    s.end();
  });
}

export const httpProbe: Probe = (t, check, signal) => (t.protocol === "h2c" ? probeH2(t, check, signal) : probeH1(t, check, signal));
