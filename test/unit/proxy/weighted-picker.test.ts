import { test } from "node:test";
import assert from "node:assert/strict";
import { WeightedPicker } from "../../../src/proxy/weighted.js";

test("one item: every pick and every pickAt returns it; no items: null", () => {
  const one = new WeightedPicker([{ item: "a", weight: 3 }]);
  assert.equal(one.size, 1);
  for (let i = 0; i < 5; i++) assert.equal(one.pick(), "a");
  for (const u of [0, 0.5, 0.999999]) assert.equal(one.pickAt(u), "a");
  const none = new WeightedPicker<string>([{ item: "z", weight: 0 }]);
  assert.equal(none.size, 0);
  assert.equal(none.pick(), null);
  assert.equal(none.pickAt(0.3), null);
  const dropped = new WeightedPicker([{ item: "z", weight: 0 }, { item: "b", weight: 0.5 }]);
  assert.equal(dropped.size, 1);
  assert.equal(dropped.pick(), "b");
  assert.equal(dropped.pickAt(0.9), "b");
});

test("several items: smooth round robin by weight, pickAt over cumulative weights, random by weight", () => {
  const p = new WeightedPicker([{ item: "a", weight: 2 }, { item: "b", weight: 1 }]);
  assert.deepEqual(Array.from({ length: 6 }, () => p.pick()), ["a", "b", "a", "a", "b", "a"]);
  assert.equal(p.pickAt(0), "a");
  assert.equal(p.pickAt(0.66), "a");
  assert.equal(p.pickAt(0.67), "b");
  const f = new WeightedPicker([{ item: "a", weight: 0.25 }, { item: "b", weight: 0.75 }]);
  let b = 0;
  for (let i = 0; i < 4000; i++) if (f.pick() === "b") b++;
  assert.ok(b > 2700 && b < 3300, `b picked ${b} of 4000`);
});
