// What an active health probe needs to reach one endpoint, and the result it reports.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { IrActiveHealthCheck } from "../../ir/types.js";

export interface ProbeTarget {
  host: string | null;
  port: number;
  socketPath: string | null;
  /** TLS options of the cluster (BackendTLSPolicy), or null for plain text. */
  tls: tls.ConnectionOptions | null;
  /** How the cluster speaks HTTP: HTTP checks use the same protocol. */
  protocol: "http1" | "h2c";
  /** "10.0.0.1:8080": Host/:authority of HTTP checks. */
  label: string;
}

/** null: healthy; otherwise why the endpoint failed the check. */
export type ProbeResult = string | null;

export type Probe = (target: ProbeTarget, check: IrActiveHealthCheck, signal: AbortSignal) => Promise<ProbeResult>;

/** A plain or TLS connection to the target (TCP checks; HTTP/2 sessions use it as createConnection). */
export function connectTarget(t: ProbeTarget, alpn?: string[]): net.Socket {
  const where = t.socketPath !== null ? { path: t.socketPath } : { host: t.host!, port: t.port };
  if (t.tls !== null) return tls.connect({ ...t.tls, ...(alpn ? { ALPNProtocols: alpn } : {}), ...where });
  return net.connect(where);
}

export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === "string") return `${e.code}${typeof e.message === "string" && !e.message.includes(e.code) ? ` (${e.message})` : ""}`;
  return typeof e?.message === "string" ? e.message : String(err);
}

/**
 * One HTTP/2 stream on a fresh session to the target (gRPC and h2c HTTP checks). `start` sends
 * the request and calls `done` with the verdict; the first verdict wins (errors, the abort signal
 * and the response race) and the session is closed with it.
 */
export function probeOverH2(t: ProbeTarget, signal: AbortSignal, start: (session: http2.ClientHttp2Session, done: (r: ProbeResult) => void) => void): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const scheme = t.tls !== null ? "https" : "http";
    const session = http2.connect(`${scheme}://${t.label}`, { createConnection: () => connectTarget(t, ["h2"]) });
    let settled = false;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      session.destroy();
      resolve(r);
    };
    const onAbort = (): void => done("timed out");
    signal.addEventListener("abort", onAbort);
    session.on("error", (err) => done(errorText(err)));
    start(session, done);
  });
}
