#!/usr/bin/env node
// Compiles bpf/*.bpf.c into dist/bpf/*.bpf.o. Objects are build output, never committed.
// Without clang the eBPF datapath is simply unavailable (the gateway runs in userspace), so the
// build prints one line and succeeds: `npm run build` must work on a fresh machine.
import { readdirSync, mkdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "dist", "bpf");
const clang = process.env.CLANG || "clang";

const probe = spawnSync(clang, ["--version"], { encoding: "utf8" });
if (probe.error || probe.status !== 0) {
  console.log(`bpf: ${clang} not found, skipping eBPF objects (the gateway will run without the kernel datapath)`);
  process.exit(0);
}
// asm/types.h lives under the multiarch include dir on Debian.
const multiarch = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim() || `${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
mkdirSync(out, { recursive: true });
let failed = 0;
for (const f of readdirSync(here).filter((n) => n.endsWith(".bpf.c")).sort()) {
  const src = join(here, f);
  const obj = join(out, f.replace(/\.c$/, ".o"));
  try {
    if (statSync(obj).mtimeMs >= statSync(src).mtimeMs) continue; // up to date
  } catch {
    /* not built yet */
  }
  const r = spawnSync(clang, ["-O2", "-g", "-Wall", "-target", "bpf", `-I/usr/include/${multiarch}`, "-c", src, "-o", obj], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bpf: compiling ${f} failed`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
