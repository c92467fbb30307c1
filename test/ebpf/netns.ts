// Test topology for kernel tests: two private network namespaces joined by a veth pair.
//   client ns  (veth "c"): 10.77.1.1, 10.77.1.50, 10.77.2.1 /16 and fd77::1, fd77::2 /64
//   server ns  (veth "s"): 10.77.0.1/16 and fd77::ff/64   <- the policy program attaches here
// Names carry the pid and a counter so parallel runs never collide; nothing touches the host's
// interfaces, and destroy() removes both namespaces (which removes the veth pair with them).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SERVER_V4 = "10.77.0.1";
export const SERVER_V6 = "fd77::ff";
export const CLIENT_V4 = ["10.77.1.1", "10.77.1.50", "10.77.2.1"] as const;
export const CLIENT_V6 = ["fd77::1", "fd77::2"] as const;

/** How long a connect that should be dropped is given (the SYN never gets an answer). */
export const BLOCKED_MS = 500;

let counter = 0;

export function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelTestSkipReason(): string | undefined {
  if (process.platform !== "linux") return "eBPF tests need Linux";
  if (process.getuid?.() !== 0) return "eBPF tests need root (CI runs them as root)";
  if (spawnSync("ip", ["-V"]).status !== 0) return "the ip command (iproute2) is missing";
  if (!existsSync(fileURLToPath(new URL("../../dist/bpf/policy.bpf.o", import.meta.url)))) {
    return "dist/bpf/policy.bpf.o is missing: run `npm run build` with clang installed";
  }
  return undefined;
}

export interface Agent {
  call(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): void;
}

async function startAgent(ns: string): Promise<Agent> {
  const script = fileURLToPath(new URL("./netns-agent.mjs", import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn("ip", ["netns", "exec", ns, process.execPath, script], { stdio: "pipe" });
  const pending = new Map<number, (r: Record<string, unknown>) => void>();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent in ${ns} did not start: ${stderr}`)), 10_000);
    child.once("exit", (code) => reject(new Error(`agent in ${ns} exited (${code}): ${stderr}`)));
    pending.set(0, () => {
      clearTimeout(t);
      resolve();
    });
  });
  lines.on("line", (line) => {
    const msg = JSON.parse(line) as Record<string, unknown> & { id: number };
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  await ready;
  let next = 1;
  return {
    call(cmd) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`agent in ${ns}: no answer to ${JSON.stringify(cmd)}`)), 10_000);
        pending.set(id, (r) => {
          clearTimeout(t);
          if (r.error) reject(new Error(String(r.error)));
          else resolve(r);
        });
        child.stdin.write(JSON.stringify({ id, ...cmd }) + "\n");
      });
    },
    stop() {
      child.stdin.end();
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

export interface Topology {
  clientNs: string;
  serverNs: string;
  clientIf: string;
  serverIf: string;
  client: Agent;
  server: Agent;
  /** TCP connect from a client address; true when the handshake completed (pass a short timeout where a drop is expected). */
  tcp(from: string, to: string, port: number, timeoutMs?: number): Promise<boolean>;
  udp(from: string, to: string, port: number): Promise<void>;
  /** Sources the server's listeners saw since the last call. */
  seen(): Promise<Array<{ proto: string; port: number; from: string }>>;
  destroy(): void;
}

export async function createTopology(): Promise<Topology> {
  const tag = `${process.pid}x${counter++}`;
  const clientNs = `slc${tag}`;
  const serverNs = `sls${tag}`;
  const clientIf = `vc${tag}`.slice(0, 15);
  const serverIf = `vs${tag}`.slice(0, 15);
  const agents: Agent[] = [];
  const destroy = () => {
    for (const a of agents) a.stop();
    for (const ns of [clientNs, serverNs]) spawnSync("ip", ["netns", "del", ns], { timeout: 10_000 });
  };
  try {
    ip("netns", "add", clientNs);
    ip("netns", "add", serverNs);
    ip("link", "add", clientIf, "netns", clientNs, "type", "veth", "peer", "name", serverIf, "netns", serverNs);
    for (const [ns, dev, v4s, v6s] of [
      [clientNs, clientIf, CLIENT_V4, CLIENT_V6],
      [serverNs, serverIf, [SERVER_V4], [SERVER_V6]],
    ] as const) {
      ip("-n", ns, "link", "set", "lo", "up");
      for (const a of v4s) ip("-n", ns, "addr", "add", `${a}/16`, "dev", dev);
      for (const a of v6s) ip("-n", ns, "addr", "add", `${a}/64`, "dev", dev, "nodad");
      ip("-n", ns, "link", "set", dev, "up");
    }
    const client = await startAgent(clientNs);
    agents.push(client);
    const server = await startAgent(serverNs);
    agents.push(server);
    return {
      clientNs,
      serverNs,
      clientIf,
      serverIf,
      client,
      server,
      async tcp(from, to, port, timeoutMs = 3000) {
        return (await client.call({ op: "tcp", from, to, port, timeoutMs })).ok === true;
      },
      async udp(from, to, port) {
        await client.call({ op: "udp", from, to, port });
      },
      async seen() {
        return (await server.call({ op: "events" })).events as Array<{ proto: string; port: number; from: string }>;
      },
      destroy,
    };
  } catch (e) {
    destroy();
    throw e;
  }
}

/**
 * A bpffs of the test's own in a temporary folder: the host's /sys/fs/bpf may not be one (nothing
 * mounts it on a machine without systemd). Mounted in the test's mount namespace, so a gateway started
 * under `ip netns exec` sees the same instance and pins outlive the process that made them.
 */
export function mountTestBpffs(): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), "sluice-bpffs-"));
  const m = spawnSync("mount", ["-t", "bpf", "bpf", path], { encoding: "utf8" });
  if (m.status !== 0) {
    rmSync(path, { recursive: true, force: true });
    throw new Error(`mount -t bpf failed: ${m.stderr}`);
  }
  return {
    path,
    dispose() {
      spawnSync("umount", ["-l", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
