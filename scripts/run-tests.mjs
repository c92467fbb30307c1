#!/usr/bin/env node
// Runs every *.test.ts under the given folders (default: test/) with node:test + tsx.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const roots = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));
const files = [];
function walk(p) {
  const st = statSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  else if (p.endsWith(".test.ts")) files.push(p);
}
for (const r of roots.length ? roots : ["test"]) walk(r);
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
// No single test may run forever; a file that leaves a server open is ended by test-guard.mjs
// (not --test-force-exit, which can drop the verdicts of tests that ran: see there).
const defaults = [];
if (!extra.some((a) => a.startsWith("--test-timeout"))) defaults.push("--test-timeout=180000");
const guard = join(import.meta.dirname, "test-guard.mjs");
const r = spawnSync(process.execPath, ["--import", "tsx", "--import", guard, "--test", "--test-reporter=spec", ...defaults, ...extra, ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
