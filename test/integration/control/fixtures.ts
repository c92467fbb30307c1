// Config folders for the control-process tests: a Gateway on a free port and routes to Backends.
import http from "node:http";

export const CLASS_AND_GATEWAY = (port: number): string => `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: sluice
spec:
  controllerName: sluice.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  gatewayClassName: sluice
  listeners:
    - name: http
      protocol: HTTP
      port: ${port}
`;

export const BACKEND = (name: string, port: number): string => `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata:
  name: ${name}
  namespace: default
spec:
  endpoints:
    - ip:
        address: 127.0.0.1
        port: ${port}
`;

export interface RouteSpec {
  name: string;
  path: string;
  backends: { name: string; port: number; weight?: number }[];
}

export const ROUTE = (r: RouteSpec): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${r.name}
  namespace: default
spec:
  parentRefs:
    - name: gw
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: ${r.path}
      backendRefs:
${r.backends.map((b) => `        - group: sluice.dev\n          kind: Backend\n          name: ${b.name}\n          port: ${b.port}\n          weight: ${b.weight ?? 1}\n`).join("")}`;

export interface Reply {
  status: number;
  pod?: string;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One GET through the gateway; `pod` is the echo backend that answered, if any. */
export function get(port: number, path: string, opts: { agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: opts.agent ?? agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let pod: string | undefined;
        try {
          pod = (JSON.parse(body) as { pod?: string }).pod;
        } catch {
          // not an echo answer
        }
        resolve({ status: res.statusCode ?? 0, body, ...(pod ? { pod } : {}) });
      });
      res.on("error", reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + ms;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
}

export async function json<T>(url: string): Promise<{ status: number; body: T }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as T };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ConfigDump {
  version: number;
  hash: string | null;
  config: unknown;
  diagnostics: { errors: { text: string; source?: { file: string; line: number } }[]; warnings: { text: string }[] };
}

export function metricValue(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return NaN;
}
