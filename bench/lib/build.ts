// Builds sluice before a benchmark run, and only what changed: a full `npm run build` (tsc over the
// whole tree) takes 10-15 s on 2 cores, a quarter of a one-minute smoke run.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return NaN;
  }
}

function* tsSources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsSources(p);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) yield p;
  }
}

/**
 * Why dist/ is out of date, or null when every src/**.ts is older than the .js tsc emitted for it
 * and tsconfig.json is older than all of them: a source edited after its output was written
 * shows up here.
 */
export function staleReason(root: string): string | null {
  const src = join(root, "src");
  let oldest = Infinity;
  let newer = 0;
  let first = "";
  for (const file of tsSources(src)) {
    const rel = relative(src, file);
    const out = mtime(join(root, "dist", rel.replace(/\.ts$/, ".js")));
    if (Number.isNaN(out) || out < mtime(file)) {
      if (newer++ === 0) first = `src/${rel}`;
    } else oldest = Math.min(oldest, out);
  }
  if (newer > 0) return `${first}${newer > 1 ? ` and ${newer - 1} more source(s)` : ""} changed since the last build`;
  if (mtime(join(root, "tsconfig.json")) > oldest) return "tsconfig.json changed since the last build";
  return null;
}

function run(cmd: string, args: string[], cwd: string): void {
  // Output goes to stderr with the progress lines: stdout is the markdown report.
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) throw new Error(`build: ${[cmd, ...args].join(" ")} failed (exit ${r.status ?? r.signal})`);
}

/**
 * What `npm run build` does (the eBPF objects, then tsc), but tsc only when dist/ is stale and then
 * incrementally (its state in dist/.bench.tsbuildinfo): after a small change that takes about half
 * the time of a full tsc run. When outputs are still older than their sources afterwards (the
 * incremental state did not know of a change, e.g. a file rewritten with the same content), a
 * full `npm run build` follows. Throws when a step fails (type errors included, as npm run build).
 */
export function ensureBuilt(root: string, log: (s: string) => void): void {
  // Checks its own objects' dates (and says so when clang is missing).
  run(process.execPath, [join(root, "bpf/build.mjs")], root);
  buildBenchTools(root, log);
  const why = staleReason(root);
  if (why === null) {
    log("build: dist/ is up to date, tsc skipped");
    return;
  }
  log(`build: ${why}: tsc --incremental`);
  run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--incremental", "--tsBuildInfoFile", join(root, "dist/.bench.tsbuildinfo")], root);
  const still = staleReason(root);
  if (still === null) return;
  log(`build: ${still} after tsc --incremental: npm run build`);
  run("npm", ["run", "build"], root);
}

/** The L4 load generator and echo server, C programs (why C: bench/README.md, "L4"). */
export const BENCH_TOOLS = ["tcp-load", "origin-tcp"] as const;

export function benchToolPath(root: string, name: (typeof BENCH_TOOLS)[number]): string {
  return join(root, "dist/bench", name);
}

/**
 * Compiles bench/<tool>.c into dist/bench/<tool> when the source is newer than the binary (or there
 * is none yet), with $CC, else cc, else clang (which CI installs for the eBPF objects). Throws
 * when no compiler is found or a compile fails: the L4 part cannot run without them.
 */
export function buildBenchTools(root: string, log: (s: string) => void): void {
  const stale = BENCH_TOOLS.filter((t) => !(mtime(benchToolPath(root, t)) >= mtime(join(root, "bench", `${t}.c`))));
  if (stale.length === 0) return;
  const cc = [process.env.CC, "cc", "clang"].find((c) => c !== undefined && c !== "" && spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);
  if (cc === undefined) throw new Error("build: no C compiler (cc or clang; or set CC) for bench/tcp-load.c and bench/origin-tcp.c");
  mkdirSync(join(root, "dist/bench"), { recursive: true });
  for (const t of stale) {
    log(`build: ${cc} bench/${t}.c -> dist/bench/${t}`);
    run(cc, ["-O2", "-Wall", "-Wextra", "-o", benchToolPath(root, t), join(root, "bench", `${t}.c`)], root);
  }
}
