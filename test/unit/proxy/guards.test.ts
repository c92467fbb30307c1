// GuardRun: order, sync and async verdicts, failures answering 500, upstream edits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuardRun, type GuardRequest, type GuardVerdict, type RequestGuard } from "../../../src/proxy/guards.js";
import type { CompiledListener, CompiledRoute } from "../../../src/proxy/compiled.js";
import type { Req } from "../../../src/proxy/respond.js";

function newRun(): GuardRun {
  return new GuardRun({} as Req, false, "GET", "example.com", "/p", "a=1", "127.0.0.1", {}, {} as CompiledRoute, {} as CompiledListener);
}

function guard(name: string, fn: (g: GuardRequest) => GuardVerdict | Promise<GuardVerdict>, calls: string[]): RequestGuard {
  return { name, check: (g) => (calls.push(name), fn(g)) };
}

test("all guards pass synchronously: null, in order, no promise", () => {
  const calls: string[] = [];
  const run = newRun();
  const v = run.run([guard("a", () => null, calls), guard("b", () => null, calls)]);
  assert.equal(v, null);
  assert.deepEqual(calls, ["a", "b"]);
});

test("the first reply stops the chain", () => {
  const calls: string[] = [];
  const v = newRun().run([guard("a", () => ({ status: 401, body: "no" }), calls), guard("b", () => null, calls)]);
  assert.deepEqual(v, { status: 401, body: "no" });
  assert.deepEqual(calls, ["a"]);
});

test("an async guard makes the verdict a promise; later guards still run in order", async () => {
  const calls: string[] = [];
  const v = newRun().run([
    guard("a", () => null, calls),
    guard("b", async () => null, calls),
    guard("c", () => ({ status: 429, body: "slow down" }), calls),
    guard("d", () => null, calls),
  ]);
  assert.ok(v instanceof Promise);
  assert.deepEqual(await v, { status: 429, body: "slow down" });
  assert.deepEqual(calls, ["a", "b", "c"]);
});

test("a throwing or rejecting guard answers 500, never lets the request through", async () => {
  const calls: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const sync = newRun().run([guard("boom", () => { throw new Error("bug"); }, calls), guard("after", () => null, calls)]);
    assert.equal((sync as { status: number }).status, 500);
    const later = await newRun().run([guard("slow", async () => null, calls), guard("reject", () => Promise.reject(new Error("x")), calls)]);
    assert.equal(later?.status, 500);
  } finally {
    process.stderr.write = orig;
  }
  assert.ok(!calls.includes("after"));
});

test("upstream edits: removes first, then sets replace every existing copy", () => {
  const run = newRun();
  run.removeUpstreamHeader("Authorization");
  run.setUpstreamHeader("X-User", "alice");
  run.addResponseHeader("RateLimit", "limit=10");
  const list = ["authorization", "Bearer t", "x-user", "forged", "accept", "*/*", "x-user", "forged2"];
  run.applyUpstream(list);
  assert.deepEqual(list, ["accept", "*/*", "x-user", "alice"]);
  assert.deepEqual(run.responseAdd, ["ratelimit", "limit=10"]);
});
