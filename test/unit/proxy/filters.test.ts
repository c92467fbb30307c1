import { test } from "node:test";
import assert from "node:assert/strict";
import { compileRedirect } from "../../../src/proxy/filters/request-redirect.js";
import { replacePrefix } from "../../../src/proxy/filters/path-modifier.js";
import { compileHeaderMods } from "../../../src/proxy/filters/header-mods.js";
import { WeightedPicker } from "../../../src/proxy/weighted.js";

const http8080: { port: number; scheme: "http" | "https" } = { port: 8080, scheme: "http" };

test("redirect port inference", () => {
  const loc = (r: Parameters<typeof compileRedirect>[0], l = http8080): string => compileRedirect(r, l, null).location("h.example", "/p", "");
  assert.equal(loc({ type: "redirect", statusCode: 302 }), "http://h.example:8080/p");
  assert.equal(loc({ type: "redirect", scheme: "https", statusCode: 302 }), "https://h.example/p");
  assert.equal(loc({ type: "redirect", scheme: "http", statusCode: 302 }), "http://h.example/p");
  assert.equal(loc({ type: "redirect", scheme: "https", port: 8443, statusCode: 302 }), "https://h.example:8443/p");
  assert.equal(loc({ type: "redirect", port: 443, scheme: "https", statusCode: 302 }), "https://h.example/p");
  assert.equal(loc({ type: "redirect", statusCode: 302 }, { port: 80, scheme: "http" }), "http://h.example/p");
  assert.equal(loc({ type: "redirect", statusCode: 302 }, { port: 443, scheme: "https" }), "https://h.example/p");
  assert.equal(loc({ type: "redirect", scheme: "http", statusCode: 302 }, { port: 443, scheme: "https" }), "http://h.example/p");
  assert.equal(loc({ type: "redirect", hostname: "x.example", statusCode: 302 }), "http://x.example:8080/p");
  const r = compileRedirect({ type: "redirect", path: { type: "ReplacePrefixMatch", value: "/new" }, statusCode: 301 }, http8080, "/old");
  assert.equal(r.location("h", "/old/a", "q=1"), "http://h:8080/new/a?q=1");
});

test("prefix replacement slash rules", () => {
  assert.equal(replacePrefix("/foo/bar", "/foo", "/"), "/bar");
  assert.equal(replacePrefix("/foo", "/foo", "/"), "/");
  assert.equal(replacePrefix("/foo/", "/foo", "/"), "/");
  assert.equal(replacePrefix("/foo/bar", "/foo", "/baz"), "/baz/bar");
  assert.equal(replacePrefix("/foo/bar", "/foo", "/baz/"), "/baz/bar");
  assert.equal(replacePrefix("/foo", "/foo", "/baz"), "/baz");
  assert.equal(replacePrefix("/foo/", "/foo", "/baz"), "/baz/");
  assert.equal(replacePrefix("/x/y", "/", "/pre"), "/pre/x/y");
});

test("header modifiers: set replaces all, add appends, remove is case-insensitive", () => {
  const edit = compileHeaderMods({
    set: [{ name: "X-Set", value: "new" }],
    add: [{ name: "X-Add", value: "b" }, { name: "x-fresh", value: "1" }],
    remove: ["X-Gone"],
  })!;
  const list = ["x-set", "1", "x-add", "a", "x-set", "2", "x-gone", "z"];
  edit(list);
  assert.deepEqual(list, ["x-set", "new", "x-add", "a,b", "x-fresh", "1"]);
  assert.equal(compileHeaderMods({ set: [], add: [], remove: [] }), null);
});

test("weighted choice: smooth round robin follows the weights exactly per cycle", () => {
  const p = new WeightedPicker([{ item: "a", weight: 3 }, { item: "b", weight: 1 }, { item: "z", weight: 0 }]);
  const seen: Record<string, number> = {};
  for (let i = 0; i < 400; i++) {
    const v = p.pick()!;
    seen[v] = (seen[v] ?? 0) + 1;
  }
  assert.deepEqual(seen, { a: 300, b: 100 });
  // Smooth: never 3 "a" in a row followed by one "b" burst pattern of 4 when interleaving is possible.
  const q = new WeightedPicker([{ item: "a", weight: 1 }, { item: "b", weight: 1 }]);
  assert.deepEqual([q.pick(), q.pick(), q.pick(), q.pick()].sort(), ["a", "a", "b", "b"]);
  const big = new WeightedPicker([{ item: "a", weight: 9999 }, { item: "b", weight: 1 }, { item: "c", weight: 10000 }]);
  let c = 0;
  for (let i = 0; i < 4000; i++) if (big.pick() === "c") c++;
  assert.ok(c > 1800 && c < 2200, String(c));
  assert.equal(new WeightedPicker<string>([]).pick(), null);
});
