// The OIDC guard's cookie sealing (pure functions, no sockets): the key is the same wherever it
// is derived from the same configuration, a value opens only under its own cookie name and key,
// and sessions too long for one cookie are split and joined back, stale parts cleared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clearChunked, deriveKey, readChunked, seal, unseal, writeChunked, type CookieAttrs } from "../../../src/proxy/guards/oidc-session.js";
import { cookieJar } from "../../../src/proxy/headers.js";

const A: CookieAttrs = { path: "/", secure: true, sameSite: "Lax" };

/** What a browser would send back after these Set-Cookie values, on top of `jar`. */
function apply(jar: Map<string, string>, setCookies: string[]): Map<string, string> {
  const out = new Map(jar);
  for (const sc of setCookies) {
    const [pair] = sc.split(";");
    const eq = pair!.indexOf("=");
    if (/Max-Age=0/.test(sc)) out.delete(pair!.slice(0, eq));
    else out.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return out;
}

test("the key is deterministic per (secret, issuer, client) and differs otherwise", () => {
  const k = deriveKey("secret", "https://idp", "app");
  assert.equal(k.length, 32);
  assert.deepEqual(deriveKey("secret", "https://idp", "app"), k);
  assert.notDeepEqual(deriveKey("secret2", "https://idp", "app"), k);
  assert.notDeepEqual(deriveKey("secret", "https://idp2", "app"), k);
  assert.notDeepEqual(deriveKey("secret", "https://idp", "app2"), k);
});

test("sealed values open only with the same key and cookie name, and not after any change", () => {
  const k = deriveKey("secret", "https://idp", "app");
  const v = seal(k, "sess", { at: "token", exp: 123 });
  assert.deepEqual(unseal(k, "sess", v), { at: "token", exp: 123 });
  assert.notEqual(seal(k, "sess", { at: "token", exp: 123 }), v, "a fresh IV every time");
  assert.equal(unseal(k, "other-name", v), null);
  assert.equal(unseal(deriveKey("x", "https://idp", "app"), "sess", v), null);
  for (let i = 3; i < v.length; i += 7) {
    const c = v[i] === "A" ? "B" : "A";
    assert.equal(unseal(k, "sess", v.slice(0, i) + c + v.slice(i + 1)), null, `changed at ${i}`);
  }
  assert.equal(unseal(k, "sess", v.slice(0, -4)), null);
  assert.equal(unseal(k, "sess", "garbage"), null);
});

test("long values are split over several cookies and read back; shorter ones clear the extra parts", () => {
  const long = "v1." + "x".repeat(9000);
  const set1 = writeChunked(new Map(), "s", long, 60, A)!;
  assert.equal(set1.length, 3);
  for (const c of set1) assert.ok(c.length < 4000, `cookie of ${c.length} bytes`);
  let jar = apply(new Map([["other", "1"]]), set1);
  assert.equal(readChunked(jar, "s"), long);
  const set2 = writeChunked(jar, "s", "v1.short", 60, A)!;
  assert.deepEqual(set2.map((c) => c.split("=")[0]), ["s", "s.1", "s.2"]);
  jar = apply(jar, set2);
  assert.deepEqual([...jar.keys()].sort(), ["other", "s"]);
  assert.equal(readChunked(jar, "s"), "v1.short");
  const missingPart = apply(new Map(), set1);
  missingPart.delete("s.1");
  assert.equal(readChunked(missingPart, "s"), null);
  assert.equal(writeChunked(new Map(), "s", "x".repeat(40_000), 60, A), null, "too large to keep");
  const cleared = apply(apply(new Map(), set1), clearChunked(apply(new Map(), set1), "s", A));
  assert.equal(cleared.size, 0);
});

test("cookie headers: first of a repeated name wins, values keep their '=' signs", () => {
  const jar = cookieJar("a=1; b=x=y; a=2;  c = 3");
  assert.equal(jar.get("a"), "1");
  assert.equal(jar.get("b"), "x=y");
  assert.equal(jar.get("c"), "3");
});
