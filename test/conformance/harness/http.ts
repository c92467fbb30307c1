// HTTP(S) client and response expectations in the style of the upstream suite. Every request uses
// a fresh connection (agent: false), so no case is served on a connection opened for another, and
// the Host header can be anything.
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { holdsInARow } from "./eventually.js";
import type { EchoResponse } from "../../../src/demo/echo-server.js";

export interface HttpRequest {
  port: number;
  path: string;
  /** Host header; default "127.0.0.1:<port>" as a client addressing the gateway directly would send. */
  host?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Use TLS; `servername` is the SNI (default: host without port), `ca` the certificate to trust. */
  tls?: { servername?: string; ca?: string; alpn?: string[] };
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lowercase names; every value of a repeated header. */
  headers: Record<string, string[]>;
  body: string;
  /** The echo backend's description of the request it received, when the body is one. */
  echo?: EchoResponse;
  alpn?: string | false;
  elapsedMs: number;
}

export function request(req: HttpRequest): Promise<HttpResponse> {
  const started = Date.now();
  const host = req.host ?? `127.0.0.1:${req.port}`;
  const headers: Record<string, string> = { host, ...(req.headers ?? {}) };
  if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const common = {
      host: "127.0.0.1",
      port: req.port,
      path: req.path,
      method: req.method ?? "GET",
      headers,
      agent: false as const,
      setHost: false,
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const out: Record<string, string[]> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) (out[res.rawHeaders[i]!.toLowerCase()] ??= []).push(res.rawHeaders[i + 1]!);
        const body = Buffer.concat(chunks).toString("utf8");
        let echo: EchoResponse | undefined;
        if ((res.headers["content-type"] ?? "").includes("json")) {
          try {
            const parsed = JSON.parse(body) as EchoResponse;
            if (parsed && typeof parsed === "object" && typeof parsed.pod === "string") echo = parsed;
          } catch {
            /* not an echo body */
          }
        }
        const sock = res.socket as TLSSocket | null;
        resolve({
          status: res.statusCode ?? 0,
          headers: out,
          body,
          echo,
          alpn: req.tls ? sock?.alpnProtocol ?? false : undefined,
          elapsedMs: Date.now() - started,
        });
      });
    };
    const r = req.tls
      ? https.request(
          <https.RequestOptions & { ALPNProtocols?: string[] }>{
            ...common,
            servername: req.tls.servername ?? host.replace(/:\d+$/, ""),
            ca: req.tls.ca,
            rejectUnauthorized: req.tls.ca !== undefined,
            // The chain is verified against `ca`; names are checked by the cases themselves (our
            // test certificates use SANs such as "*" that Node's name check refuses).
            checkServerIdentity: () => undefined,
            ALPNProtocols: req.tls.alpn ?? ["http/1.1"],
          },
          onResponse,
        )
      : http.request(common, onResponse);
    r.setTimeout(req.timeoutMs ?? 10_000, () => r.destroy(new Error(`request timed out after ${req.timeoutMs ?? 10_000} ms`)));
    r.on("error", reject);
    r.end(req.body);
  });
}

/** What one case expects, modelled on the upstream ExpectedResponse. */
export interface Expectation {
  /** Shown in the test name. */
  name?: string;
  request: { path: string; host?: string; method?: string; headers?: Record<string, string>; body?: string };
  /** Headers the echo backend is asked to add to its response. */
  backendSetResponseHeaders?: Record<string, string>;
  /** The request the backend must see (default: the one sent). */
  expectedRequest?: { path?: string; host?: string; method?: string; headers?: Record<string, string>; absentHeaders?: string[] };
  /** Accepted statuses (default 200). */
  status?: number | number[];
  responseHeaders?: Record<string, string>;
  responseAbsentHeaders?: string[];
  /** Prefix of the pod that must answer. */
  backend?: string;
  namespace?: string;
  /** The gateway itself answers (e.g. a CORS preflight): the backend must not see the request. */
  gatewayAnswers?: boolean;
  /** For 3xx: the Location's parts. Unset parts default to the request's (host: to what came back). */
  redirect?: { scheme?: string; host?: string; port?: string; path?: string };
}

export function caseName(e: Expectation, i: number): string {
  if (e.name) return `${i} ${e.name}`;
  const r = e.request;
  const parts = [`${i} request to '${r.path}'`];
  if (r.host) parts.push(`with host '${r.host}'`);
  if (r.method) parts.push(`method ${r.method}`);
  if (r.headers && Object.keys(r.headers).length) parts.push(`headers ${JSON.stringify(r.headers)}`);
  const st = e.status ?? 200;
  parts.push(`should ${e.backend ? `go to ${e.backend}` : `receive ${Array.isArray(st) ? st.join("|") : st}`}`);
  return parts.join(" ");
}

/** Sends the expectation's request once. */
export function send(port: number, e: Expectation, tls?: HttpRequest["tls"], h2 = false): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(e.request.headers ?? {}) };
  if (e.backendSetResponseHeaders) {
    headers["x-echo-set-header"] = Object.entries(e.backendSetResponseHeaders).map(([k, v]) => `${k}:${v}`).join(",");
  }
  const req = { port, path: e.request.path, host: e.request.host, method: e.request.method, headers, body: e.request.body, tls };
  return h2 ? requestH2(req) : request(req);
}

const joinVals = (v: string[] | undefined): string | undefined => (v === undefined ? undefined : v.join(","));

/** null when the response meets the expectation, else what differs. */
export function compare(e: Expectation, res: HttpResponse, scheme: "http" | "https" = "http"): string | null {
  const statuses = e.status === undefined ? [200] : Array.isArray(e.status) ? e.status : [e.status];
  if (!statuses.includes(res.status)) return `expected status ${statuses.join("|")}, got ${res.status} (body: ${res.body.slice(0, 300)})`;
  if (e.gatewayAnswers) {
    if (res.echo) return `expected the gateway to answer, but the backend did (pod ${res.echo.pod})`;
    return compareResponseHeaders(e, res);
  }
  if (res.status === 200 || res.status === 204) {
    const echo = res.echo;
    if (!echo) return `expected a response from an echo backend, got body ${JSON.stringify(res.body.slice(0, 300))}`;
    // As upstream: without expectedRequest the backend must see the request as sent (headers included).
    const x = e.expectedRequest;
    const want = x
      ? { path: x.path ?? e.request.path, host: x.host, method: x.method ?? e.request.method, headers: x.headers }
      : { path: e.request.path, host: e.request.host, method: e.request.method, headers: e.request.headers };
    const method = want.method ?? "GET";
    if (want.host !== undefined && echo.host !== want.host) return `backend saw host ${JSON.stringify(echo.host)}, expected ${JSON.stringify(want.host)}`;
    if (echo.path !== want.path) return `backend saw path ${JSON.stringify(echo.path)}, expected ${JSON.stringify(want.path)}`;
    if (echo.method !== method) return `backend saw method ${echo.method}, expected ${method}`;
    if (e.namespace !== undefined && echo.namespace !== e.namespace) return `answered from namespace ${echo.namespace}, expected ${e.namespace}`;
    for (const [name, val] of Object.entries(want.headers ?? {})) {
      const got = joinVals(echo.headers[name.toLowerCase()]);
      if (got === undefined) return `backend request lacks header ${name} (headers: ${JSON.stringify(echo.headers)})`;
      if (got !== val) return `backend request header ${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(val)}`;
    }
    for (const name of e.expectedRequest?.absentHeaders ?? []) {
      const got = joinVals(echo.headers[name.toLowerCase()]);
      if (got !== undefined) return `backend request has header ${name}: ${JSON.stringify(got)}, expected it absent`;
    }
    const headerDiff = compareResponseHeaders(e, res);
    if (headerDiff !== null) return headerDiff;
    if (!echo.pod.startsWith(e.backend ?? "")) return `answered by pod ${echo.pod}, expected ${e.backend}*`;
  } else if (res.status >= 300 && res.status < 400 && e.redirect) {
    const loc = res.headers["location"]?.[0];
    if (!loc) return `redirect without a Location header`;
    let u: URL;
    try {
      u = new URL(loc);
    } catch {
      return `Location ${JSON.stringify(loc)} is not an absolute URL`;
    }
    const gotScheme = u.protocol.replace(/:$/, "");
    const want = {
      host: e.redirect.host ?? u.hostname,
      scheme: e.redirect.scheme ?? scheme,
      path: e.redirect.path ?? e.request.path.split("?")[0],
    };
    if (u.hostname !== want.host) return `Location ${loc}: host ${u.hostname}, expected ${want.host}`;
    if (e.redirect.port !== undefined) {
      if (u.port !== e.redirect.port) return `Location ${loc}: port ${JSON.stringify(u.port)}, expected ${JSON.stringify(e.redirect.port)}`;
    } else if (gotScheme === "http" && u.port !== "" && u.port !== "80") {
      return `Location ${loc}: port ${u.port} for http, expected 80 or none`;
    } else if (gotScheme === "https" && u.port !== "" && u.port !== "443") {
      return `Location ${loc}: port ${u.port} for https, expected 443 or none`;
    }
    if (gotScheme !== want.scheme) return `Location ${loc}: scheme ${gotScheme}, expected ${want.scheme}`;
    if (u.pathname !== want.path) return `Location ${loc}: path ${u.pathname}, expected ${want.path}`;
  }
  return null;
}

function compareResponseHeaders(e: Expectation, res: HttpResponse): string | null {
  for (const [name, val] of Object.entries(e.responseHeaders ?? {})) {
    const got = joinVals(res.headers[name.toLowerCase()]);
    if (got === undefined) return `response lacks header ${name} (headers: ${JSON.stringify(res.headers)})`;
    if (got !== val) return `response header ${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(val)}`;
  }
  for (const name of e.responseAbsentHeaders ?? []) {
    const got = joinVals(res.headers[name.toLowerCase()]);
    if (got !== undefined) return `response has header ${name}: ${JSON.stringify(got)}, expected it absent`;
  }
  return null;
}

export interface EventuallyOptions {
  /** How long a mismatch may last before the case fails. */
  windowMs?: number;
  /** Matches in a row needed. */
  consecutive?: number;
  tls?: HttpRequest["tls"];
  /** Speak HTTP/2 (h2 over TLS, or h2c prior knowledge without). */
  h2?: boolean;
}

/**
 * Sends the request until the response matches `consecutive` times in a row (bounded by
 * `windowMs` for the first match), then returns the last response; throws with the last difference.
 */
export async function expectResponse(port: number, e: Expectation, opts: EventuallyOptions = {}): Promise<HttpResponse> {
  let res: HttpResponse | undefined;
  const attempt = async (): Promise<string | null> => {
    try {
      return compare(e, (res = await send(port, e, opts.tls, opts.h2)), opts.tls ? "https" : "http");
    } catch (err) {
      return `request failed: ${(err as Error).message}`;
    }
  };
  await holdsInARow(attempt, { windowMs: opts.windowMs, consecutive: opts.consecutive, attempts: 200 }).catch((err: Error) => {
    throw new Error(`${caseName(e, 0).replace(/^0 /, "")}: ${err.message}`);
  });
  return res!;
}

/**
 * One HTTP/2 request on a fresh session: over TLS (ALPN h2) when `tls` is given, else h2c with
 * prior knowledge. `host` becomes :authority.
 */
export function requestH2(req: HttpRequest): Promise<HttpResponse> {
  const started = Date.now();
  const authority = req.host ?? `127.0.0.1:${req.port}`;
  return new Promise((resolve, reject) => {
    const session = req.tls
      ? http2.connect(`https://127.0.0.1:${req.port}`, {
          servername: req.tls.servername ?? authority.replace(/:\d+$/, ""),
          ca: req.tls.ca,
          rejectUnauthorized: req.tls.ca !== undefined,
          checkServerIdentity: () => undefined,
          ALPNProtocols: ["h2"],
        })
      : http2.connect(`http://127.0.0.1:${req.port}`);
    const done = (err: Error | null, res?: HttpResponse): void => {
      session.close();
      if (err) reject(err);
      else resolve(res!);
    };
    session.on("error", (e) => done(e));
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`h2 request timed out after ${req.timeoutMs ?? 10_000} ms`));
    }, req.timeoutMs ?? 10_000);
    const stream = session.request({
      ":method": req.method ?? "GET",
      ":path": req.path,
      ":authority": authority,
      ":scheme": req.tls ? "https" : "http",
      ...(req.headers ?? {}),
    });
    const chunks: Buffer[] = [];
    let status = 0;
    const headers: Record<string, string[]> = {};
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      for (const [k, v] of Object.entries(h)) {
        if (k.startsWith(":") || v === undefined) continue;
        headers[k] = Array.isArray(v) ? v : [String(v)];
      }
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (e) => {
      clearTimeout(timer);
      done(e);
    });
    stream.on("end", () => {
      clearTimeout(timer);
      const body = Buffer.concat(chunks).toString("utf8");
      let echo: EchoResponse | undefined;
      try {
        const parsed = JSON.parse(body) as EchoResponse;
        if (parsed && typeof parsed.pod === "string") echo = parsed;
      } catch {
        /* not an echo body */
      }
      done(null, { status, headers, body, echo, alpn: req.tls ? "h2" : undefined, elapsedMs: Date.now() - started });
    });
    stream.end(req.body);
  });
}
