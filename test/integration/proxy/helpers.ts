// Builders for hand-made snapshots and a small HTTP client for the proxy integration tests.
import http from "node:http";
import type { IrAction, IrCluster, IrFilters, IrGatewayListener, IrListener, IrMatch, IrRoute, Snapshot } from "../../../src/ir/types.js";
import type { EchoServer } from "../../../src/demo/echo-server.js";

let version = 0;

export function snapshot(listeners: IrListener[], clusters: IrCluster[]): Snapshot {
  version++;
  return { version, hash: `h${version}`, config: { listeners, clusters } };
}

export function listener(port: number, gatewayListeners: IrGatewayListener[], protocol: "HTTP" | "HTTPS" = "HTTP"): IrListener {
  return { name: `${protocol.toLowerCase()}-${port}`, port, protocol, gatewayListeners };
}

export function gateway(routes: IrRoute[], hostname: string | null = null, vhost = "*", name = "default/gw/http"): IrGatewayListener {
  return { name, hostname, tls: null, virtualHosts: [{ hostname: vhost, routes }] };
}

export function match(m: Partial<IrMatch> = {}): IrMatch {
  return { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [], ...m };
}

export function forward(...clusters: (string | null | { cluster: string | null; weight?: number; filters?: IrFilters })[]): IrAction {
  return {
    type: "forward",
    backends: clusters.map((c) =>
      typeof c === "object" && c !== null
        ? { cluster: c.cluster, weight: c.weight ?? 1, filters: c.filters ?? {} }
        : { cluster: c, weight: 1, filters: {} },
    ),
  };
}

let routeN = 0;
export function route(m: Partial<IrMatch>, action: IrAction, extra: Partial<IrRoute> = {}): IrRoute {
  const n = routeN++;
  return {
    name: `httproute/default/r${n}/rule/0/match/0`,
    ref: { kind: "HTTPRoute", namespace: "default", name: `r${n}`, rule: 0, match: 0 },
    match: match(m),
    filters: {},
    action,
    ...extra,
  };
}

export function cluster(name: string, backends: EchoServer[], protocol: IrCluster["protocol"] = "http1"): IrCluster {
  return { name, protocol, endpoints: backends.map((b) => ({ address: "127.0.0.1", port: b.port, weight: 1 })) };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export const agent = new http.Agent({ keepAlive: true });

export function request(
  port: number,
  path: string,
  opts: { method?: string; host?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: opts.host ?? "example.com", ...opts.headers };
    const req = http.request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end(opts.body);
  });
}
