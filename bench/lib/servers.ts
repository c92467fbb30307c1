// The processes under test: the origin, nginx, haproxy and sluice, each on its own port.
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { start, tempDir, type Proc } from "./procs.js";
import { sleep } from "./system.js";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const SMALL_BYTES = 20;
export const LARGE_BYTES = 64 * 1024;
/** Path suffix that selects the 64 KiB body at the origin (anything else gets 20 B). */
export function bodyPath(size: "20B" | "64KiB", prefix = ""): string {
  return size === "64KiB" ? `${prefix}/64k` : `${prefix}/20b`;
}

export interface Server {
  name: string;
  port: number;
  proc: Proc;
}

/** One GET on a fresh connection; resolves with the status (0 on a connection error or timeout). */
export function get(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 2_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { connection: "close", ...headers }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.on("error", () => resolve(0));
    req.setTimeout(timeoutMs, () => req.destroy());
    req.end();
  });
}

/** Polls 127.0.0.1:port/path until it answers 200, or throws with the process output. */
export async function waitHttp(port: number, path: string, proc: Proc, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.output()}`);
    last = await get(port, path, headers);
    if (last === 200) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} not answering 127.0.0.1:${port}${path} after ${timeoutMs} ms (last status ${last || "no answer"}):\n${proc.output()}`);
}

function nginxBase(dir: string, http: string, workers = 1): string {
  for (const d of ["body", "proxy", "fcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  // As root, nginx workers would otherwise run as "nobody" and not read the private temp folder.
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  return `${user}worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
${http}
}
`;
}

async function startNginx(name: string, port: number, cpus: string, http: string, dir: string, probe: string, workers = 1): Promise<Server> {
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxBase(dir, http, workers));
  const proc = start(name, "nginx", ["-e", join(dir, "error.log"), "-p", dir, "-c", conf], { cpus });
  await waitHttp(port, probe, proc);
  return { name, port, proc };
}

export type OriginKind = "nginx" | "node";

/** The origin every proxy forwards to: 20 B or 64 KiB static bodies. */
export async function startOrigin(kind: OriginKind, port: number, cpus: string): Promise<Server> {
  if (kind === "node") {
    const proc = start("origin", process.execPath, ["--import", "tsx", join(ROOT, "bench/origin-node.ts"), String(port)], { cpus, cwd: ROOT });
    await waitHttp(port, "/20b", proc);
    return { name: "origin", port, proc };
  }
  const dir = tempDir("origin");
  mkdirSync(join(dir, "www"));
  writeFileSync(join(dir, "www/20b"), "0123456789abcdefghi\n");
  writeFileSync(join(dir, "www/64k"), Buffer.alloc(64 * 1024, "x"));
  const http = `  sendfile on;
  etag off;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    default_type application/octet-stream;
    location ~ 64k$ { try_files /64k =404; }
    location / { try_files /20b =404; }
  }`;
  return startNginx("origin", port, cpus, http, dir, "/20b");
}

/** nginx as a reverse proxy: proxy_pass to an upstream with keep-alive connections, `workers` worker processes. */
export async function startNginxProxy(port: number, origin: number, cpus: string, workers = 1): Promise<Server> {
  const dir = tempDir("nginx");
  const http = `  upstream origin {
    server 127.0.0.1:${origin};
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`;
  return startNginx(workers === 1 ? "nginx" : `nginx-${workers}`, port, cpus, http, dir, "/20b", workers);
}

/** haproxy in http mode, one thread, server connections reused. */
export async function startHaproxy(port: number, origin: number, cpus: string): Promise<Server> {
  const dir = tempDir("haproxy");
  const conf = join(dir, "haproxy.cfg");
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server origin 127.0.0.1:${origin} maxconn 4096
`,
  );
  const proc = start("haproxy", "haproxy", ["-db", "-f", conf], { cpus });
  await waitHttp(port, "/20b", proc);
  return { name: "haproxy", port, proc };
}

/**
 * The GatewayClass, the Gateway "bench" (namespace default) with one listener, and a Backend with
 * one endpoint on 127.0.0.1. No trailing document separator.
 */
export function benchGatewayYaml(listener: { name: string; protocol: "HTTP" | "TCP"; port: number }, backend: { name: string; port: number }): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: sluice
spec:
  controllerName: sluice.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: bench
  namespace: default
spec:
  gatewayClassName: sluice
  listeners:
    - name: ${listener.name}
      protocol: ${listener.protocol}
      port: ${listener.port}
---
apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata:
  name: ${backend.name}
  namespace: default
spec:
  endpoints:
    - ip:
        address: 127.0.0.1
        port: ${backend.port}
`;
}

/** The bench Gateway with an HTTP listener and the Backend "origin". */
export function gatewayYaml(listenerPort: number, originPort: number): string {
  return benchGatewayYaml({ name: "http", protocol: "HTTP", port: listenerPort }, { name: "origin", port: originPort });
}

/** One HTTPRoute; without hostname/path it takes every request on the listener. */
export function routeYaml(name: string, originPort: number, hostname?: string, pathPrefix?: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: default
spec:
  parentRefs:
    - name: bench
${hostname ? `  hostnames:\n    - ${hostname}\n` : ""}  rules:
    - ${pathPrefix ? `matches:\n        - path: { type: PathPrefix, value: ${pathPrefix} }\n      ` : ""}backendRefs:
        - { group: sluice.dev, kind: Backend, name: origin, port: ${originPort} }
`;
}

export interface Sluice extends Server {
  adminPort: number;
  configDir: string;
}

export interface ReadyState {
  ready: boolean;
  version: number;
  workers?: { id: number; pid?: number; version: number }[];
  /** When the last worker's report of `version` came in (ISO 8601; builds before session 13 lack it). */
  servedAt?: string;
}

export async function readyState(adminPort: number): Promise<ReadyState | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
    return (await r.json()) as ReadyState;
  } catch {
    return null;
  }
}

/** Waits until every worker serves a snapshot newer than `after`. */
export async function waitVersion(s: Sluice, after: number, timeoutMs: number): Promise<ReadyState> {
  const deadline = Date.now() + timeoutMs;
  let last: ReadyState | null = null;
  while (Date.now() < deadline) {
    if (s.proc.child.exitCode !== null) throw new Error(`sluice exited (${s.proc.child.exitCode}):\n${s.proc.output()}`);
    last = await readyState(s.adminPort);
    if (last?.ready && last.version > after && (last.workers ?? []).every((w) => w.version > after)) return last;
    await sleep(5);
  }
  throw new Error(`sluice: no snapshot newer than ${after} after ${timeoutMs} ms: ${JSON.stringify(last)}\n${s.proc.output()}`);
}

/** Which sluice to start and how: another build's bin/sluice, node flags (the workers inherit them). */
export interface SluiceBuild {
  /** Path of bin/sluice (default: this checkout's). */
  bin?: string;
  /** node flags ahead of bin/sluice. */
  nodeFlags?: string[];
  /** Bytes of its output to keep (default 64 KiB; a --trace-deopt log runs to MiBs). */
  keep?: number;
}

/** A sluice build as the one-change benches name it: `NAME=PATH_TO_bin/sluice[@node flags separated by spaces]`. */
export function sluiceVariant(spec: string): { name: string; bin: string; flags: string[] } {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new Error(`--variant expects NAME=PATH[@flags], got "${spec}"`);
  const [bin, flags] = spec.slice(eq + 1).split("@") as [string, string | undefined];
  return { name: spec.slice(0, eq), bin: resolve(bin), flags: flags ? flags.split(" ").filter(Boolean) : [] };
}

/** `bin/sluice run` on a config folder that the caller has filled (gateway + routes). */
export async function startSluice(opts: {
  name: string;
  port: number;
  adminPort: number;
  configDir: string;
  workers: number;
  cpus: string;
  readyTimeoutMs?: number;
  /** More `sluice run` flags (e.g. --no-splice). */
  extraArgs?: string[];
} & SluiceBuild): Promise<Sluice> {
  const proc = start(
    opts.name,
    process.execPath,
    [...(opts.nodeFlags ?? []), opts.bin ?? join(ROOT, "bin/sluice"), "run", "--config", opts.configDir, "--workers", String(opts.workers), "--admin-port", String(opts.adminPort),
      "--access-log", "off", "--listen-address", "127.0.0.1", "--log-level", "warn", ...(opts.extraArgs ?? [])],
    { cpus: opts.cpus, cwd: ROOT, keep: opts.keep },
  );
  const s: Sluice = { name: opts.name, port: opts.port, proc, adminPort: opts.adminPort, configDir: opts.configDir };
  await waitVersion(s, 0, opts.readyTimeoutMs ?? 60_000);
  return s;
}

/**
 * A sluice with one catch-all route ("all") to the origin. `extra`: more config files (name ->
 * YAML), and the headers the readiness probe needs once they are in force (e.g. a token).
 */
export async function startSluiceProxy(
  name: string,
  port: number,
  adminPort: number,
  origin: number,
  workers: number,
  cpus: string,
  extra: { files?: Record<string, string>; probeHeaders?: Record<string, string>; build?: SluiceBuild } = {},
): Promise<Sluice> {
  const dir = tempDir(name.replace(/[^\w-]/g, "_"));
  writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(port, origin));
  writeFileSync(join(dir, "route.yaml"), routeYaml("all", origin));
  for (const [file, yaml] of Object.entries(extra.files ?? {})) writeFileSync(join(dir, file), yaml);
  const s = await startSluice({ name, port, adminPort, configDir: dir, workers, cpus, ...extra.build });
  await waitHttp(port, "/20b", s.proc, undefined, extra.probeHeaders);
  return s;
}
