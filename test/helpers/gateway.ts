// Test harness: runs a real `bin/sluice run` process on a temporary config folder.
// Requires `npm run build` (the test command does it). Everything binds 127.0.0.1 / ::1 only.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SLUICE = join(ROOT, "bin/sluice");

/**
 * A port that was free a moment ago. Picked below the kernel's ephemeral range (32768-60999 by
 * default), so the source port of some outgoing connection cannot take it before the gateway
 * binds it; handed out once per test process.
 */
const handedOut = new Set<number>();
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    if (await canBind(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found in 20000-31999");
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once("error", () => res(false));
    s.listen(port, host, () => s.close(() => res(true)));
  });
}

export interface GatewayOptions {
  /** Files to write into a fresh config folder: relative path -> content. */
  files?: Record<string, string>;
  /** Use an existing folder instead (not deleted at stop). */
  configDir?: string;
  workers?: number;
  /** Extra CLI arguments. */
  args?: string[];
  /** Wait for /ready (default true). */
  waitReady?: boolean;
  env?: Record<string, string>;
  /** Flags for node itself, before the script. */
  nodeArgs?: string[];
  /** --listen-address (default 127.0.0.1); null leaves it out, so listeners bind every address. */
  listenAddress?: string | null;
}

export interface ReadyState {
  ready: boolean;
  version: number;
  reason?: string;
  workers?: { id: number; version: number; pid?: number | null }[];
}

export class GatewayProcess {
  stdout = "";
  stderr = "";
  exited: Promise<number | null>;
  private constructor(
    readonly proc: ChildProcess,
    readonly configDir: string,
    readonly adminPort: number,
    private readonly ownDir: boolean,
  ) {
    proc.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => proc.once("exit", (code) => r(code)));
  }

  static async start(opts: GatewayOptions = {}): Promise<GatewayProcess> {
    const ownDir = !opts.configDir;
    const dir = opts.configDir ?? mkdtempSync(join(tmpdir(), "sluice-test-"));
    for (const [rel, content] of Object.entries(opts.files ?? {})) writeConfig(dir, rel, content);
    const adminPort = await freePort();
    const args = [
      SLUICE, "run", "--config", dir, "--admin-port", String(adminPort),
      "--workers", String(opts.workers ?? 1), "--access-log", "off",
      ...(opts.listenAddress === null ? [] : ["--listen-address", opts.listenAddress ?? "127.0.0.1"]),
      ...(opts.args ?? []),
    ];
    const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    const gw = new GatewayProcess(proc, dir, adminPort, ownDir);
    if (opts.waitReady ?? true) {
      try {
        await gw.waitReady();
      } catch (err) {
        // A gateway that never got ready must not outlive the test that started it.
        await gw.stop();
        throw err;
      }
    }
    return gw;
  }

  admin(path: string): string {
    return `http://127.0.0.1:${this.adminPort}${path}`;
  }

  async readyState(): Promise<ReadyState | null> {
    try {
      const r = await fetch(this.admin("/ready"));
      return (await r.json()) as ReadyState;
    } catch {
      return null;
    }
  }

  /** Waits until every worker serves a snapshot with version >= minVersion (default: any). */
  async waitReady(minVersion = 1, timeoutMs = 15_000): Promise<ReadyState> {
    const deadline = Date.now() + timeoutMs;
    let last: ReadyState | null = null;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`sluice exited with ${this.proc.exitCode}\n${this.stderr}`);
      last = await this.readyState();
      if (last?.ready && last.version >= minVersion) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sluice not ready after ${timeoutMs} ms: ${JSON.stringify(last)}\nstderr:\n${this.stderr}`);
  }

  /** Writes (or with null, deletes) a file in the config folder. */
  write(rel: string, content: string | null): void {
    if (content === null) rmSync(join(this.configDir, rel), { force: true });
    else writeConfig(this.configDir, rel, content);
  }

  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.ownDir) rmSync(this.configDir, { recursive: true, force: true });
    return this.proc.exitCode;
  }
}

function writeConfig(dir: string, rel: string, content: string): void {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  // Write-then-rename, as editors do, so the watcher never reads half a file.
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, p);
}
