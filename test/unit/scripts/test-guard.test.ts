import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "../../..");
const guard = join(root, "scripts/test-guard.mjs");
const fixture = join(root, "test/fixtures/runner/late-registration.test.mjs");

function run(withGuard: boolean): { status: number | null; out: string } {
  const args = [...(withGuard ? ["--import", guard] : []), "--test", "--test-reporter=tap", "--test-force-exit", fixture];
  // Without NODE_TEST_CONTEXT: the inner `node --test` must run as a runner of its own, not as our child.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30_000, env });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("without the guard, --test-force-exit loses a test registered after a top-level await and still passes", () => {
  const r = run(false);
  assert.equal(r.status, 0);
  assert.match(r.out, /registered at once/);
  assert.doesNotMatch(r.out, /registered after a top-level await/);
});

test("with the guard, the same file fails and says why", () => {
  const r = run(true);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /exited before this file finished loading/);
});

test("with the guard, a file whose test leaves a server open ends after a grace period with every verdict reported", () => {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const file = join(root, "test/fixtures/runner/open-handle.test.mjs");
  const started = Date.now();
  const r = spawnSync(process.execPath, ["--import", guard, "--test", "--test-reporter=tap", file], { encoding: "utf8", timeout: 30_000, env });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^# tests 21$/m);
  assert.match(r.stdout, /^# pass 21$/m);
  assert.match(`${r.stdout}${r.stderr}`, /open-handle\.test\.mjs: something was still open 3000 ms after its last test \(.*TCPServerWrap.*\); exiting/);
  assert.ok(Date.now() - started < 20_000, "it did not wait for the spawn timeout");
});
