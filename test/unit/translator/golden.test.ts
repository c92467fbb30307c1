// Golden files: test/golden/translator/<case>/input.yaml -> expected.json (the whole TranslateResult).
// UPDATE_GOLDEN=1 rewrites the expected files; review every diff by hand before committing it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTROLLER_NAME, translate } from "../../../src/translator/index.js";
import { goldenCases, goldenRoot, loadCase } from "./golden-cases.js";

const root = goldenRoot;

/** Deterministic shuffle (no Math.random: failures must reproduce). */
function shuffled<T>(list: T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const cases = goldenCases();

test("there are golden cases", () => {
  assert.ok(cases.length >= 12, `only ${cases.length} golden cases`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const objects = loadCase(name);
    const actual = JSON.stringify(translate(objects, { controllerName: CONTROLLER_NAME }), null, 2) + "\n";
    const file = join(root, name, "expected.json");
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
    assert.ok(existsSync(file), `${file} missing: run with UPDATE_GOLDEN=1 and review it`);
    assert.equal(actual, readFileSync(file, "utf8"));
  });

  test(`golden: ${name}: input order does not change the output`, () => {
    const objects = loadCase(name);
    const base = JSON.stringify(translate(objects, { controllerName: CONTROLLER_NAME }));
    for (const seed of [1, 7, 42]) {
      // Fresh copies too: translate must not depend on (or mutate) shared input objects.
      const copy = shuffled(objects, seed).map((o) => structuredClone(o));
      assert.equal(JSON.stringify(translate(copy, { controllerName: CONTROLLER_NAME })), base, `seed ${seed}`);
    }
  });
}
