// Admin HTTP API: health, readiness, per-resource status, config dump, metrics.
// Bound to loopback by default: it exposes the whole configuration.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { stringify as toYaml } from "yaml";
import type { FlowHub } from "../observe/flow-hub.js";
import { handleFlows } from "./flows.js";
import { ReadyChanges, readyWaitOf, waitReady } from "./ready-wait.js";

export interface ReadyView {
  ready: boolean;
  version: number;
  /** appliedAt: when the worker's report of applying `version` came in (ISO 8601). */
  workers: { id: number; version: number; pid?: number | null; appliedAt?: string; error?: string }[];
  /** Ready: since when every worker serves `version` (the last one's appliedAt). */
  servedAt?: string;
  reason?: string;
}

/** What the admin server reads from the running gateway. */
export interface StatusList {
  apiVersion: "v1";
  kind: "List";
  metadata: Record<string, unknown>;
  items: unknown[];
}

export interface AdminSource {
  ready(): ReadyView;
  /** A Kubernetes v1 List of every loaded object with its .status. */
  statusList(): StatusList | Promise<StatusList>;
  configDump(): unknown;
  metrics(): Promise<{ contentType: string; text: string }>;
  /** Told when readiness may have changed; lets GET /ready?after=N&wait=MS answer at once (absent: it waits out MS). */
  readyChanges?: ReadyChanges;
  /** The flow stream (GET /flows, /flows/status); absent: 404. */
  flows?: FlowHub;
}

export interface AdminServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startAdminServer(source: AdminSource, host: string, port: number): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    handle(source, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(source: AdminSource, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://admin");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    return;
  }
  switch (url.pathname) {
    case "/healthz":
      send(res, 200, "text/plain; charset=utf-8", "ok\n");
      return;
    case "/ready": {
      const wait = readyWaitOf(url.searchParams);
      if (typeof wait === "string") {
        send(res, 400, "text/plain; charset=utf-8", `${wait}\n`);
        return;
      }
      const r = wait === null ? source.ready() : await waitReady(() => source.ready(), source.readyChanges ?? new ReadyChanges(), wait, (abort) => res.once("close", abort));
      if (res.destroyed) return;
      sendJson(res, r.ready ? 200 : 503, r);
      return;
    }
    case "/status": {
      const list = await source.statusList();
      const format = url.searchParams.get("format") ?? "json";
      if (format === "yaml") send(res, 200, "application/yaml; charset=utf-8", toYaml(list, { aliasDuplicateObjects: false }));
      else if (format === "json") sendJson(res, 200, list);
      else send(res, 400, "text/plain; charset=utf-8", `unknown format "${format}" (expected: json or yaml)\n`);
      return;
    }
    case "/config_dump":
      sendJson(res, 200, source.configDump());
      return;
    case "/metrics": {
      const m = await source.metrics();
      send(res, 200, m.contentType, m.text);
      return;
    }
    case "/flows":
    case "/flows/status":
      if (source.flows) return handleFlows(source.flows, url, req, res);
      send(res, 404, "text/plain; charset=utf-8", "flows are not available\n");
      return;
    default:
      send(res, 404, "text/plain; charset=utf-8", `not found: ${url.pathname} (try /healthz, /ready, /status, /config_dump, /metrics, /flows)\n`);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body, null, 2) + "\n");
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
