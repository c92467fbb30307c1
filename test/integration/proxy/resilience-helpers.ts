// Misbehaving backends and small clients for the resilience tests (retries, timeouts, breaker).
// Everything listens on 127.0.0.1.
import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { startEchoServer, type EchoRequest, type EchoServer } from "../../../src/demo/echo-server.js";

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** One request on its own connection (no pooling: concurrency is what the caller makes it). */
export function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: { host: "example.com", ...opts.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * An echo backend that fails on purpose. Request headers steer it:
 *   x-id: <id>        attempts are counted per id (attemptsOf)
 *   x-fail: <n>       the first n attempts of the id fail ...
 *   x-mode: <m>       ... with: a status code ("500", "418" ..., "503@100": after 100 ms), "reset" (TCP RST after the
 *                     request arrived), "close" (FIN without a response), "slow:<ms>" (answer late)
 * The other x-echo-* headers work as usual.
 */
export interface FlakyBackend extends EchoServer {
  attemptsOf(id: string): EchoRequest[];
  /** performance.now() of each attempt of an id. */
  timesOf(id: string): number[];
}

export async function startFlaky(pod = "flaky"): Promise<FlakyBackend> {
  const counts = new Map<string, number>();
  const times = new Map<string, number[]>();
  const echo = await startEchoServer({
    pod,
    intercept(rec, req, res) {
      const id = rec.headers["x-id"]?.[0];
      if (id === undefined) return false;
      const n = (counts.get(id) ?? 0) + 1;
      counts.set(id, n);
      (times.get(id) ?? times.set(id, []).get(id)!).push(performance.now());
      if (n > Number(rec.headers["x-fail"]?.[0] ?? 0)) return false;
      const mode = rec.headers["x-mode"]?.[0] ?? "500";
      if (mode === "reset") req.socket.resetAndDestroy();
      else if (mode === "close") req.socket.end();
      else if (mode.startsWith("slow:")) setTimeout(() => res.destroyed || res.end(`slow attempt ${n}`), Number(mode.slice(5)));
      else {
        const [code, after] = mode.split("@");
        const answer = (): void => {
          if (res.destroyed) return;
          res.writeHead(Number(code), { "content-type": "text/plain" });
          res.end(`failing attempt ${n}`);
        };
        if (after !== undefined) setTimeout(answer, Number(after));
        else answer();
      }
      return true;
    },
  });
  return {
    ...echo,
    close: () => echo.close(),
    attemptsOf: (id) => echo.requests.filter((r) => r.headers["x-id"]?.[0] === id),
    timesOf: (id) => times.get(id) ?? [],
  };
}

/**
 * A TCP port that never completes a connection: a listening socket whose accept queue is full
 * (backlog 1, filled by our own connections) on a thread whose event loop is blocked, so the kernel
 * drops further SYNs and a connect attempt just waits. Stays on 127.0.0.1.
 */
export async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const gate = new SharedArrayBuffer(4);
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const net = require("node:net");
    const srv = net.createServer();
    srv.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
      parentPort.postMessage(srv.address().port);
      // Nothing is accepted while this thread waits.
      Atomics.wait(new Int32Array(workerData), 0, 0, 120000);
      srv.close();
    });`;
  const worker = new Worker(code, { eval: true, workerData: gate });
  const [port] = (await once(worker, "message")) as [number];
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    async close() {
      for (const s of fillers) s.destroy();
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      await worker.terminate();
    },
  };
}

/** A port nothing listens on (connection refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Sum of a metric's series whose labels include every `want` pair. */
export function metricSum(text: string, name: string, want: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(want).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

export const backendYaml = (name: string, ports: number[]): string => `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec:
  endpoints:
${ports.map((p) => `    - ip: { address: 127.0.0.1, port: ${p} }`).join("\n")}
---
`;

export const routeYaml = (name: string, path: string, backend: string, extra = ""): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${path} } }]
      backendRefs: [{ group: sluice.dev, kind: Backend, name: ${backend}, port: 1 }]${extra}
---
`;

/** A BackendTrafficPolicy on a route (kind HTTPRoute) or a Backend; `body` is indented spec YAML. */
export const policyYaml = (name: string, target: { kind: "HTTPRoute" | "Backend"; name: string }, body: string): string => `apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: ${target.kind === "HTTPRoute" ? "gateway.networking.k8s.io" : "sluice.dev"}, kind: ${target.kind}, name: ${target.name} }]
${body}
---
`;
