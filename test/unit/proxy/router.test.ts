import { test } from "node:test";
import assert from "node:assert/strict";
import { compileMatch, queryValue } from "../../../src/proxy/router-match.js";
import { HostTable, RouteTable } from "../../../src/proxy/router.js";
import { hostOf } from "../../../src/proxy/hostname.js";
import type { IrMatch } from "../../../src/ir/types.js";

function m(p: Partial<IrMatch>): IrMatch {
  return { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [], ...p };
}

function table(...ms: Partial<IrMatch>[]): RouteTable<{ id: number; match: ReturnType<typeof compileMatch> }> {
  return new RouteTable(ms.map((x, id) => ({ id, match: compileMatch(m(x)) })));
}

const pick = (t: ReturnType<typeof table>, path: string, method = "GET", headers = {}, query = ""): number | null =>
  t.match(method, path, query, headers)?.id ?? null;

test("prefix matches whole segments; a trailing slash in the prefix is ignored", () => {
  const t = table({ path: { type: "PathPrefix", value: "/foo" } });
  assert.equal(pick(t, "/foo"), 0);
  assert.equal(pick(t, "/foo/"), 0);
  assert.equal(pick(t, "/foo/bar"), 0);
  assert.equal(pick(t, "/foobar"), null);
  assert.equal(pick(t, "/fo"), null);
  const s = table({ path: { type: "PathPrefix", value: "/foo/" } });
  assert.equal(pick(s, "/foo"), 0);
  assert.equal(pick(s, "/foo/x"), 0);
  assert.equal(pick(s, "/foox"), null);
  const deep = table({ path: { type: "PathPrefix", value: "/a/b" } });
  assert.equal(pick(deep, "/a/b/c"), 0);
  assert.equal(pick(deep, "/a/bc"), null);
  assert.equal(pick(deep, "/a"), null);
});

test("exact and anchored regex paths", () => {
  const t = table({ path: { type: "Exact", value: "/x" } }, { path: { type: "RegularExpression", value: "/r/\\d+" } });
  assert.equal(pick(t, "/x"), 0);
  assert.equal(pick(t, "/x/"), null);
  assert.equal(pick(t, "/r/12"), 1);
  assert.equal(pick(t, "/r/12/more"), null);
  assert.equal(pick(t, "/pre/r/12"), null);
});

test("precedence is the given order, across first-segment buckets and wildcard routes", () => {
  const t = table(
    { path: { type: "PathPrefix", value: "/api" }, headers: [{ type: "Exact", name: "x", value: "1" }] },
    { path: { type: "RegularExpression", value: "/api/.*" } },
    { path: { type: "Exact", value: "/api/v1" } },
    { path: { type: "PathPrefix", value: "/" } },
  );
  assert.equal(pick(t, "/api/v1", "GET", { x: "1" }), 0);
  assert.equal(pick(t, "/api/v1"), 1);
  assert.equal(pick(t, "/api"), 3);
  assert.equal(pick(t, "/other"), 3);
});

test("method, headers (case-insensitive names, exact or regex) and query params", () => {
  const t = table(
    { method: "POST" },
    { headers: [{ type: "RegularExpression", name: "X-Ver", value: "v[0-9]" }] },
    { queryParams: [{ type: "Exact", name: "Q", value: "a b" }] },
  );
  assert.equal(pick(t, "/", "POST"), 0);
  assert.equal(pick(t, "/", "GET", { "x-ver": "v2" }), 1);
  assert.equal(pick(t, "/", "GET", { "x-ver": "v22" }), null);
  assert.equal(pick(t, "/", "GET", {}, "Q=a%20b"), 2);
  assert.equal(pick(t, "/", "GET", {}, "q=a%20b"), null);
  assert.equal(queryValue("a=1&b=2&a=3", "a"), "1");
  assert.equal(queryValue("flag&b=2", "flag"), "");
  assert.equal(queryValue("b=2", "a"), undefined);
});

test("hostnames: exact before wildcard, wildcard needs at least one label, ports stripped", () => {
  const h = new HostTable([
    { hostname: "a.example.com", value: "exact" },
    { hostname: "*.b.example.com", value: "long" },
    { hostname: "*.example.com", value: "wild" },
    { hostname: null, value: "any" },
  ]);
  assert.equal(h.lookup(hostOf("A.EXAMPLE.COM:8080")), "exact");
  assert.equal(h.lookup("x.b.example.com"), "long");
  assert.equal(h.lookup("x.y.example.com"), "wild");
  assert.equal(h.lookup("example.com"), "any");
  const noAny = new HostTable([{ hostname: "*.example.com", value: 1 }]);
  assert.equal(noAny.lookup("example.com"), null);
  assert.equal(hostOf("[::1]:80"), "[::1]");
  assert.equal(hostOf("Example.com."), "example.com");
});
