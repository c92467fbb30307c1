// A private redis-server for tests: a free port on 127.0.0.1, no persistence, stopped by the test.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { freePort } from "./gateway.js";

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export function redisSkipReason(): string | undefined {
  return spawnSync("redis-server", ["--version"]).status === 0 ? undefined : "redis-server is not installed (CI installs it)";
}

export async function startRedis(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn("redis-server", ["--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}
