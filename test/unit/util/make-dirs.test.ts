// makeDirs: mkdir -p that fails where node's recursive mkdirSync never returns (procfs and sysfs
// answer ENOENT to mkdir under a directory that exists).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDirs } from "../../../src/util/make-dirs.js";

test("creates the missing parents, and is a no-op on a directory that exists", () => {
  const root = mkdtempSync(join(tmpdir(), "sluice-mkdirs-"));
  try {
    const deep = join(root, "a", "b", "c");
    makeDirs(deep);
    assert.ok(statSync(deep).isDirectory());
    makeDirs(deep);
    makeDirs(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("under /proc, where mkdir says ENOENT (node 20's recursive mkdirSync loops forever there), it throws at once", () => {
  const path = `/proc/sluice-mkdirs-${process.pid}/x`;
  assert.throws(() => makeDirs(path), (err: NodeJS.ErrnoException) => err.code === "ENOENT");
  assert.equal(existsSync(path), false);
});
