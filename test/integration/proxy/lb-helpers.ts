// Shared pieces of the load-balancing and health wire tests: YAML for a Gateway, Backends,
// Services with EndpointSlices and routes; echo backends that can turn slow, failing or unhealthy;
// and a client that tallies which backend answered.
import http from "node:http";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { gatewayYaml } from "../../helpers/gateway-yaml.js";

export const GATEWAY = (port: number): string => `
${gatewayYaml("gw", [`{name: web, port: ${port}, protocol: HTTP}`], "namespace: default")}`;

export function backendYaml(name: string, eps: { port: number; weight?: number }[], appProtocol?: string): string {
  const list = eps.map((e) => `    - ip: { address: 127.0.0.1, port: ${e.port} }${e.weight !== undefined ? `\n      weight: ${e.weight}` : ""}`).join("\n");
  return `---
apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec:
${appProtocol ? `  appProtocols: [${appProtocol}]\n` : ""}  endpoints:
${list}
`;
}

export function routeYaml(name: string, path: string, backendRef: string, extra = ""): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${path} } }]
      backendRefs: [${backendRef}]
${extra}`;
}

export function policyYaml(name: string, target: string, spec: string): string {
  return `---
apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [${target}]
${spec}`;
}

/** A backend that can be steered at run time: slow, failing with a status, or failing its health path. */
export interface Steered {
  server: EchoServer;
  pod: string;
  delayMs: number;
  failStatus: number;
  healthStatus: number;
}

export async function steeredEcho(pod: string, healthPath = "/healthz"): Promise<Steered> {
  const s: Steered = { server: null as unknown as EchoServer, pod, delayMs: 0, failStatus: 0, healthStatus: 200 };
  s.server = await startEchoServer({
    pod,
    intercept: (rec, _req, res) => {
      if (rec.path === healthPath) {
        res.writeHead(s.healthStatus, { "content-type": "text/plain" });
        res.end(s.healthStatus === 200 ? "ok" : "sick");
        return true;
      }
      const answer = (): void => {
        if (res.destroyed) return;
        const status = s.failStatus || 200;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ pod }));
      };
      if (s.delayMs > 0) setTimeout(answer, s.delayMs);
      else answer();
      return true;
    },
  });
  return s;
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Hit {
  status: number;
  pod: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function hit(port: number, path: string, headers: Record<string, string> = {}): Promise<Hit> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { host: "example.com", ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        let pod = "";
        try {
          pod = (JSON.parse(body) as { pod?: string }).pod ?? "";
        } catch {
          /* gateway answers are plain text */
        }
        resolve({ status: res.statusCode ?? 0, pod, headers: res.headers, body });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** `n` requests, `concurrency` at a time; counts by pod ("" for gateway answers) and status. */
export async function tally(port: number, path: string, n: number, concurrency = 1, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const r = await hit(port, path, headers);
      const k = r.status === 200 ? r.pod : `status:${r.status}`;
      out.set(k, (out.get(k) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Polls `probe` until it returns true (bounded), e.g. until a health change shows in traffic. */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
