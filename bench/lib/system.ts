// Tools, machine description and ports.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";

/** Debian ships nginx's stream module (the L4 comparison) as a dynamic module, package libnginx-mod-stream. */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Installs wrk, nginx and haproxy from apt when missing (the benchmark runs as root). */
export function ensureTools(log: (s: string) => void): void {
  const need = [
    ["wrk", "wrk"],
    ["nginx", "nginx"],
    ["haproxy", "haproxy"],
    ["taskset", "util-linux"],
  ].filter(([cmd]) => !has(cmd!)).map(([, pkg]) => pkg!);
  // nginx `stream` (the L4 comparison) is a dynamic module in Debian, packaged on its own.
  if (!existsSync(STREAM_MODULE)) need.push("libnginx-mod-stream");
  if (need.length === 0) {
    log("tools: wrk, nginx (with its stream module), haproxy and taskset present");
    return;
  }
  log(`tools: installing ${need.join(", ")} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]): number | null => spawnSync("apt-get", args, { stdio: ["ignore", "inherit", "inherit"], env }).status;
  if (run(["install", "-y", "-q", ...need]) !== 0) {
    run(["update", "-q"]);
    if (run(["install", "-y", "-q", ...need]) !== 0) throw new Error(`apt-get install ${need.join(" ")} failed (run as root?)`);
  }
  // Debian's packages may start the system services; the benchmark runs its own instances.
  for (const svc of ["nginx", "haproxy"]) spawnSync("sh", ["-c", `command -v service >/dev/null && service ${svc} stop`], { stdio: "ignore" });
  log(`tools: installed ${need.join(", ")}`);
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  nginx: string;
  haproxy: string;
  wrk: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0]!.trim();
}

export function machine(): Machine {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown";
  return {
    cpus: Number(execFileSync("nproc", { encoding: "utf8" }).trim()),
    cpuModel: model,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: firstLine("nginx", ["-v"]).replace(/^nginx version:\s*nginx\//, ""),
    haproxy: firstLine("haproxy", ["-v"]).replace(/ - https?:.*$/, "").replace(/^HAProxy version\s*/, ""),
    wrk: firstLine("wrk", ["-v"]).replace(/ Copyright.*$/, "").replace(/^wrk\s*/, ""),
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** Distinct free ports (a port is not handed out twice in one run). */
export async function freePorts(n: number, taken = new Set<number>()): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!taken.has(p)) {
      taken.add(p);
      out.push(p);
    }
  }
  return out;
}

/**
 * Fixed CPU layout. On 2 cores: the load generator and the origin share cpu0, the proxy under test
 * gets cpu1 alone, so a proxy's numbers are what one core of it does. With more cores the proxy
 * still gets one core (the last); "sluice N workers" gets every core and so competes with wrk.
 */
export interface Layout {
  load: string;
  origin: string;
  proxy: string;
  all: string;
}

export function layout(cpus: number): Layout {
  if (cpus < 2) return { load: "0", origin: "0", proxy: "0", all: "0" };
  return { load: "0", origin: "0", proxy: String(cpus - 1), all: `0-${cpus - 1}` };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The kernel's TCP retransmission timeouts (TcpExt TCPTimeouts) since boot, machine-wide: on loopback
 * one means a segment or its ACK was dropped and the sender waited its RTO (200 ms at least), which
 * shows up as a p99 far out while the median is normal. NaN where /proc/net/netstat is unreadable.
 */
export function tcpTimeouts(): number {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
    const at = lines.findIndex((l) => l.startsWith("TcpExt:"));
    const names = lines[at]!.split(/\s+/);
    const values = lines[at + 1]!.split(/\s+/);
    const i = names.indexOf("TCPTimeouts");
    return i > 0 ? Number(values[i]) : NaN;
  } catch {
    return NaN;
  }
}
