#!/usr/bin/env node
// Builds the README's result table from a spec-reporter run of this suite:
//   node scripts/run-tests.mjs test/conformance > run.txt; node test/conformance/harness/report.mjs run.txt
// Each test file declares its upstream name and features; the run says pass / fail / skipped.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = readFileSync(process.argv[2] ?? 0, "utf8").split("\n");

const rows = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith(".test.ts")).sort()) {
  const src = readFileSync(join(dir, f), "utf8");
  const name = /name: "([A-Za-z0-9]+)",\s*features:/.exec(src)?.[1] ?? "?";
  const skip = /skip: "([^"]+)"/.exec(src)?.[1];
  // The suite's own line: "✔ Name [features] (ms)" or "✖ ...".
  const line = run.find((l) => new RegExp(`^[✔✖] ${name} \\[`).test(l));
  const features = line ? /\[(.*)\]/.exec(line)[1] : (/features: \[([^\]]*)\]/.exec(src)?.[1] ?? "").replace(/"/g, "");
  let status;
  if (skip) status = `skipped: ${skip}`;
  else if (!line) status = "not run";
  else if (line.startsWith("✔")) status = "pass";
  else {
    // Names of the failing cases inside this suite (until the next top-level line).
    const start = run.indexOf(line);
    let i = start - 1;
    while (i >= 0 && !/^[✔✖▶]/.test(run[i])) i--;
    const failed = run.slice(i + 1, start).filter((l) => /^ {2}✖ /.test(l)).map((l) => l.replace(/^ {2}✖ /, "").replace(/ \(\d.*$/, ""));
    status = `FAIL: ${failed.join("; ") || "setup failed"}`;
  }
  rows.push(`| ${name} | [${f}](${f}) | ${features} | ${status} |`);
}
console.log("| upstream test | our test file | feature (core/extended) | status |\n|---|---|---|---|\n" + rows.join("\n"));
