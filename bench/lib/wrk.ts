// Runs wrk (one thread, pinned) and parses its --latency report.
import { start } from "./procs.js";

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  /** Responses with status >= 400 (wrk's "Non-2xx or 3xx responses"). */
  non2xx: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
  raw: string;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  cpus: string;
  headers?: Record<string, string>;
  /** A wrk Lua script (-s), e.g. one that varies a header from request to request. */
  script?: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(v: string, unit: string): number {
  const f = UNIT_MS[unit];
  if (f === undefined) throw new Error(`wrk: unknown latency unit "${unit}"`);
  return Number(v) * f;
}

export function parseWrk(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const reqs = /^\s*(\d+) requests in /m.exec(out);
  const p50 = /^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  if (!rps || !reqs) throw new Error(`wrk: unexpected output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    requests: Number(reqs[1]),
    // With zero completed requests wrk prints no distribution.
    p50ms: p50 ? toMs(p50[1]!, p50[2]!) : NaN,
    p99ms: p99 ? toMs(p99[1]!, p99[2]!) : NaN,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0,
    raw: out,
  };
}

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const args = ["-t1", `-c${o.connections}`, `-d${o.seconds}s`, "--latency", "--timeout", "5s"];
  // wrk adds "Host" unless a header of exactly that name is given (a lowercase one would be a second Host).
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (o.script !== undefined) args.push("-s", o.script);
  args.push(o.url);
  const p = start("wrk", "wrk", args, { cpus: o.cpus });
  const code = await p.exited;
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${p.output()}`);
  return parseWrk(p.output());
}
