// One HTTP(S) request from a test: status, headers and body, and the echo backend's description of
// the request when the body is one. A fresh connection unless an agent is given.
import http from "node:http";
import https from "node:https";
import type { EchoResponse } from "../../src/demo/echo-server.js";

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body as received (binary bodies). */
  bytes: Buffer;
  /** The body parsed, when it is JSON (the echo backend answered rather than the gateway). */
  echo?: EchoResponse;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent one by one with transfer-encoding: chunked. */
  chunks?: Buffer[];
  /** Client address to connect to; default 127.0.0.1. */
  host?: string;
  /** HTTPS: the server name, CA and client certificate. */
  tls?: { servername?: string; ca?: string; cert?: string; key?: string };
  /** Only a JSON body with a string `pod` counts as the echo backend's. */
  strictEcho?: boolean;
  /** false: do not add a Host header (the test sets its own or none). */
  setHost?: boolean;
  agent?: http.Agent;
  timeoutMs?: number;
}

export function httpCall(port: number, path: string, opts: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.headers ?? {}) };
    if (opts.chunks) headers["transfer-encoding"] = "chunked";
    const base: https.RequestOptions = {
      host: opts.host ?? "127.0.0.1",
      port,
      path,
      method: opts.method ?? "GET",
      headers,
      agent: opts.agent ?? false,
      ...(opts.setHost === false ? { setHost: false } : {}),
      ...(opts.tls ?? {}),
    };
    const req = (opts.tls ? https : http).request(base, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const body = bytes.toString();
        let echo: EchoResponse | undefined;
        try {
          const j = JSON.parse(body) as EchoResponse;
          if (!opts.strictEcho || typeof j.pod === "string") echo = j;
        } catch {
          // the gateway answered itself
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, bytes, ...(echo ? { echo } : {}) });
      });
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 8000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}
