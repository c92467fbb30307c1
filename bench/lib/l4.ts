// L4 comparison: a TCP echo server behind nginx `stream`, haproxy `mode tcp` and sluice TCPRoutes
// (userspace pipe, io_uring thread, splice(2) thread and kernel splice), driven by bench/tcp-load.c. Both ends are C programs
// (dist/bench/, built by ensureBuilt or buildBenchTools in ./build.ts). Repetitions interleaved across
// variants like the L7 matrix. Besides throughput, each run records the CPU time the proxy's
// processes used (utime + stime of its process group): a proxy that is not the bottleneck shows it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { benchToolPath, type BENCH_TOOLS } from "./build.js";
import { progress } from "./progress.js";
import { groupCpuSeconds, start, tempDir, type Proc } from "./procs.js";
import { benchGatewayYaml, ROOT, startSluice, type Server, type Sluice } from "./servers.js";
import { median } from "./stats.js";
import { sleep, STREAM_MODULE } from "./system.js";

export interface TcpLoadResult {
  mode: "pingpong" | "stream";
  conns: number;
  size: number;
  seconds: number;
  ops: number;
  opsPerSec: number;
  bytesPerSec: number;
  p50us: number | null;
  p99us: number | null;
  errors: number;
}

export interface L4Test {
  id: string;
  label: string;
  mode: "pingpong" | "stream";
  conns: number;
  size: number;
}

export interface L4Variant {
  id: string;
  label: string;
  port: number;
  cpus: string;
  /** Process group whose CPU time is the proxy's (null for "direct"). */
  proc: Proc | null;
}

export interface L4Run extends TcpLoadResult {
  /** Proxy CPU seconds per wall second of the run (1.0 = one core busy). */
  proxyCpu: number;
  /**
   * Busy CPU seconds of the whole machine (every CPU, every process, softirq and kworkers included)
   * per wall second. Unlike proxyCpu it counts the kernel work a splice does on other CPUs; it also
   * counts unrelated work, so it means something only on an otherwise idle machine.
   */
  machineCpu: number;
}

export interface L4Cell {
  variant: L4Variant;
  test: L4Test;
  runs: L4Run[];
  /** Medians over the runs. */
  opsPerSec: number;
  bytesPerSec: number;
  p50us: number;
  p99us: number;
  proxyCpu: number;
  machineCpu: number;
  errors: number;
}

export interface L4Plan {
  variants: L4Variant[];
  tests: L4Test[];
  reps: number;
  seconds: number;
  warmupSeconds: number;
  loadCpus: string;
}

/** Round trips of 64 B messages, and a 64 KiB-write stream: the two shapes of L4 traffic. */
export function l4Tests(quick: boolean): L4Test[] {
  return [
    { id: "pp64", label: "ping-pong 64 B", mode: "pingpong", conns: 64, size: 64 },
    ...(quick ? [] : [{ id: "pp64-256", label: "ping-pong 64 B", mode: "pingpong" as const, conns: 256, size: 64 }]),
    { id: "st64k", label: "stream 64 KiB writes", mode: "stream", conns: 8, size: 64 * 1024 },
  ];
}

export const l4Key = (v: string, t: string): string => `${v}|${t}`;

/** Answers when a connection to the port echoes a probe back (through whatever proxy is there). */
export async function waitEcho(port: number, proc: Proc | null, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc !== null && proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.output()}`);
    if (await echoOnce(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing echoes on 127.0.0.1:${port} after ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ""}`);
}

function echoOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write("ping"));
    s.on("data", (d) => {
      got += d.toString();
      if (got === "ping") done(true);
    });
  });
}

/** A bench tool's binary, or an error that says how to build it. */
function tool(name: (typeof BENCH_TOOLS)[number]): string {
  const path = benchToolPath(ROOT, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: it is built from bench/${name}.c by npm run bench (buildBenchTools in bench/lib/build.ts)`);
  return path;
}

export async function startEchoOrigin(port: number, cpus: string): Promise<Server> {
  const proc = start("echo", tool("origin-tcp"), [String(port)], { cpus, cwd: ROOT });
  await waitEcho(port, proc);
  return { name: "echo", port, proc };
}

/** nginx `stream` proxy_pass to the echo server, 1 worker. */
export async function startNginxStream(port: number, backend: number, cpus: string): Promise<Server> {
  const dir = tempDir("nginx-stream");
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `${user}load_module ${STREAM_MODULE};
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
stream {
  upstream echo { server 127.0.0.1:${backend}; }
  server {
    listen 127.0.0.1:${port};
    proxy_pass echo;
    proxy_timeout 60s;
  }
}
`,
  );
  const proc = start("nginx-stream", "nginx", ["-e", join(dir, "error.log"), "-p", dir, "-c", conf], { cpus });
  await waitEcho(port, proc);
  return { name: "nginx-stream", port, proc };
}

/** haproxy `mode tcp`, one thread. */
export async function startHaproxyTcp(port: number, backend: number, cpus: string): Promise<Server> {
  const dir = tempDir("haproxy-tcp");
  const conf = join(dir, "haproxy.cfg");
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server echo 127.0.0.1:${backend} maxconn 4096
`,
  );
  const proc = start("haproxy-tcp", "haproxy", ["-db", "-f", conf], { cpus });
  await waitEcho(port, proc);
  return { name: "haproxy-tcp", port, proc };
}

function tcpRouteYaml(port: number, backend: number): string {
  return `${benchGatewayYaml({ name: "tcp", protocol: "TCP", port }, { name: "echo", port: backend })}---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{name: bench, sectionName: tcp}]
  rules: [{backendRefs: [{group: sluice.dev, kind: Backend, name: echo, port: ${backend}}]}]
`;
}

/** sluice, 1 worker, one TCPRoute to the echo server; `extraArgs` picks the relay path. */
export async function startSluiceTcp(name: string, port: number, adminPort: number, backend: number, cpus: string, extraArgs: string[]): Promise<Sluice> {
  const dir = tempDir(name);
  writeFileSync(join(dir, "gateway.yaml"), tcpRouteYaml(port, backend));
  const s = await startSluice({ name, port, adminPort, configDir: dir, workers: 1, cpus, extraArgs });
  await waitEcho(port, s.proc);
  return s;
}

/** Busy seconds summed over all CPUs since boot (/proc/stat: everything but idle and iowait). */
export function machineBusySeconds(): number {
  const tick = 100; // USER_HZ
  const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / tick;
}

export function tcpLoad(port: number, t: L4Test, seconds: number, cpus: string): Promise<TcpLoadResult> {
  const p = start("tcp-load", tool("tcp-load"), ["--port", String(port), "--mode", t.mode, "--conns", String(t.conns), "--seconds", String(seconds), "--size", String(t.size)], {
    cpus,
    cwd: ROOT,
  });
  return p.exited.then((code) => {
    const out = p.output();
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (code !== 0 || line === undefined) throw new Error(`tcp-load exited with ${code}:\n${out}`);
    return JSON.parse(line) as TcpLoadResult;
  });
}

export async function runL4(plan: L4Plan): Promise<Map<string, L4Cell>> {
  const cells = new Map<string, L4Cell>();
  for (const v of plan.variants)
    for (const t of plan.tests) cells.set(l4Key(v.id, t.id), { variant: v, test: t, runs: [], opsPerSec: NaN, bytesPerSec: NaN, p50us: NaN, p99us: NaN, proxyCpu: NaN, machineCpu: NaN, errors: 0 });

  // 0 s (--quick): no warm-up.
  for (const v of plan.warmupSeconds > 0 ? plan.variants : []) {
    progress(`L4 warm-up ${v.label}`);
    for (const t of plan.tests) await tcpLoad(v.port, t, plan.warmupSeconds, plan.loadCpus);
  }
  const total = plan.reps * plan.tests.length * plan.variants.length;
  let done = 0;
  for (let rep = 0; rep < plan.reps; rep++)
    for (const t of plan.tests)
      for (let i = 0; i < plan.variants.length; i++) {
        const v = plan.variants[(i + rep) % plan.variants.length]!;
        progress(`[L4 ${done + 1}/${total}] rep ${rep + 1}/${plan.reps}  ${v.label}  ${t.label} -c${t.conns}  ${plan.seconds}s`);
        // The CPU window includes the load generator's start-up and settle time, where the proxy
        // idles or sets connections up: a slight underestimate of its busy share.
        const cpu0 = v.proc ? groupCpuSeconds(v.proc.pid) : 0;
        const m0 = machineBusySeconds();
        const w0 = performance.now();
        const r = await tcpLoad(v.port, t, plan.seconds, plan.loadCpus);
        const wall = (performance.now() - w0) / 1000;
        const cpu = v.proc ? (groupCpuSeconds(v.proc.pid) - cpu0) / wall : NaN;
        cells.get(l4Key(v.id, t.id))!.runs.push({ ...r, proxyCpu: cpu, machineCpu: (machineBusySeconds() - m0) / wall });
        done++;
      }
  for (const c of cells.values()) {
    c.opsPerSec = median(c.runs.map((r) => r.opsPerSec));
    c.bytesPerSec = median(c.runs.map((r) => r.bytesPerSec));
    c.p50us = median(c.runs.map((r) => r.p50us ?? NaN));
    c.p99us = median(c.runs.map((r) => r.p99us ?? NaN));
    c.proxyCpu = median(c.runs.map((r) => r.proxyCpu));
    c.machineCpu = median(c.runs.map((r) => r.machineCpu));
    c.errors = c.runs.reduce((a, r) => a + r.errors, 0);
  }
  return cells;
}

/** Connections by relay path, and the bytes the kernel splice moved, as one sluice's /metrics says. */
export interface SpliceUse {
  kernel: number;
  uring: number;
  thread: number;
  userspace: number;
  bytes: number;
}

/** Connections by relay path and spliced bytes, from a sluice's /metrics (null when not exported). */
export async function spliceUse(s: Sluice): Promise<SpliceUse | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${s.adminPort}/metrics`)).text();
    const num = (re: RegExp): number | null => {
      const m = re.exec(text);
      return m ? Number(m[1]) : null;
    };
    const kernel = num(/^sluice_l4_splice_connections_total\{path="kernel"\}\s+(\S+)/m);
    const uring = num(/^sluice_l4_splice_connections_total\{path="uring"\}\s+(\S+)/m);
    const thread = num(/^sluice_l4_splice_connections_total\{path="thread"\}\s+(\S+)/m);
    const userspace = num(/^sluice_l4_splice_connections_total\{path="userspace"\}\s+(\S+)/m);
    if (kernel === null && userspace === null && thread === null && uring === null) return null;
    return { kernel: kernel ?? 0, uring: uring ?? 0, thread: thread ?? 0, userspace: userspace ?? 0, bytes: num(/^sluice_l4_splice_bytes_total\s+(\S+)/m) ?? 0 };
  } catch {
    return null;
  }
}
