import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { forgetShapes, KEEP_ATTEMPT, KEEP_EXCHANGE, keepShape } from "../../../src/proxy/shape-keeper.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
// A WeakRef holds its target until the job that created or read it ends.
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function refTo(kind: number): WeakRef<object> {
  const o = { kind, payload: new Array(64).fill(kind) };
  keepShape(kind, o);
  return new WeakRef(o);
}

test("shape keeper: the latest object of each kind outlives a full collection; the one it replaced does not", async () => {
  const first = refTo(KEEP_EXCHANGE);
  const attempt = refTo(KEEP_ATTEMPT);
  await turn();
  gc();
  assert.ok(first.deref(), "kept exchange collected");
  const second = refTo(KEEP_EXCHANGE);
  await turn();
  gc();
  assert.equal(first.deref(), undefined, "a replaced exchange stays alive");
  assert.ok(second.deref());
  assert.ok(attempt.deref(), "another kind's object went with it");
});

test("shape keeper: a new snapshot lets everything kept go (old route tables are not held until the next request)", async () => {
  const ex = refTo(KEEP_EXCHANGE);
  const at = refTo(KEEP_ATTEMPT);
  await turn();
  forgetShapes();
  gc();
  assert.equal(ex.deref(), undefined);
  assert.equal(at.deref(), undefined);
});
