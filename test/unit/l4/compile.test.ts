// The compiled L4 listener: SNI -> Gateway listener (most specific hostname first, isolation) ->
// route, Terminate listeners carrying a secure context, the passthrough fallback of IR without
// gatewayListeners, and counters bound per backend at compile time.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrL4GatewayListener, IrL4Listener, IrL4Route } from "../../../src/ir/types.js";
import { compileL4Listener } from "../../../src/l4/compile.js";
import { selfSignedCert } from "../../conformance/harness/certs.js";

const route = (name: string, hostname: string | null): IrL4Route => ({
  name,
  hostname,
  backends: [{ name: `backend/default/${name}`, weight: 1, endpoints: [{ address: "127.0.0.1", port: 1, weight: 1 }] }],
});

const gl = (name: string, hostname: string | null, routes: IrL4Route[], terminate = false): IrL4GatewayListener => {
  const tls = terminate ? { certificates: [{ name: `default/${name}`, ...selfSignedCert([hostname ?? "any.test"]) }] } : null;
  return { name: `default/gw/${name}`, hostname, tls, routes };
};

test("SNI picks the most specific Gateway listener first, then a route of that listener only", () => {
  const gatewayListeners = [
    gl("exact", "a.example.com", [], true),
    gl("wild", "*.example.com", [route("wild-exact", "b.example.com"), route("wild-any", "*.example.com")]),
    gl("any", null, [route("catch-all", "*"), route("org", "x.example.org")]),
  ];
  const ir: IrL4Listener = { name: "tls-9443", port: 9443, protocol: "TLS", routes: [], gatewayListeners };
  const l = compileL4Listener(ir);
  const pick = (sni: string | null): [string | null, string | null] => {
    const m = l.forSni(sni);
    return [m.mode, m.route?.name ?? null];
  };
  // Owned by the exact Terminate listener, which has no route: refused, not handed to "*.example.com".
  assert.deepEqual(pick("a.example.com"), ["terminate", null]);
  assert.ok(l.forSni("a.example.com").terminate?.select("a.example.com"));
  assert.deepEqual(pick("b.example.com"), ["passthrough", "wild-exact"]);
  assert.deepEqual(pick("c.example.com"), ["passthrough", "wild-any"]);
  assert.deepEqual(pick("x.example.org"), ["passthrough", "org"]);
  assert.deepEqual(pick("y.example.org"), ["passthrough", "catch-all"]);
  // No SNI: only a listener without hostname can take it.
  assert.deepEqual(pick(null), ["passthrough", "catch-all"]);
});

test("without a catch-all listener, an unmatched SNI and a missing SNI match nothing", () => {
  const ir: IrL4Listener = { name: "tls-1", port: 1, protocol: "TLS", routes: [], gatewayListeners: [gl("wild", "*.example.com", [route("r", "*.example.com")])] };
  const l = compileL4Listener(ir);
  assert.deepEqual(l.forSni("example.com"), { mode: null, route: null, terminate: null });
  assert.equal(l.forSni(null).route, null);
  assert.equal(l.forSni("deep.sub.example.com").route?.name, "r");
});

test("a Terminate listener without certificates refuses instead of passing bytes through", () => {
  const g: IrL4GatewayListener = { name: "default/gw/t", hostname: null, tls: { certificates: [] }, routes: [route("r", "*")] };
  const l = compileL4Listener({ name: "tls-2", port: 2, protocol: "TLS", routes: [], gatewayListeners: [g] });
  assert.equal(l.forSni("x.test").route, null);
});

test("an unusable certificate makes compilation throw (the snapshot is not applied)", () => {
  const g: IrL4GatewayListener = { name: "default/gw/t", hostname: null, tls: { certificates: [{ name: "bad", certPem: "nope", keyPem: "nope" }] }, routes: [] };
  assert.throws(() => compileL4Listener({ name: "tls-3", port: 3, protocol: "TLS", routes: [], gatewayListeners: [g] }));
});

test("IR without gatewayListeners routes TLS by SNI alone, as passthrough", () => {
  const l = compileL4Listener({ name: "tls-4", port: 4, protocol: "TLS", routes: [route("exact", "a.test"), route("any", "*")] });
  assert.deepEqual([l.forSni("a.test").mode, l.forSni("a.test").route?.name], ["passthrough", "exact"]);
  assert.equal(l.forSni("b.test").route?.name, "any");
});

test("TCP: the first route serves; its picker carries counters bound per backend", () => {
  const l = compileL4Listener({ name: "tcp-5", port: 5, protocol: "TCP", routes: [route("first", null), route("second", null)] });
  assert.equal(l.route?.name, "first");
  const c = l.route!.picker.choose(0.5, 0.5);
  assert.ok(c && c.target && c.backend.cells);
  assert.deepEqual(c.target, { host: "127.0.0.1", port: 1 });
  const before = c.backend.cells.ok.n;
  c.backend.cells.ok.n++;
  // A later compile of the same listener and route shares the series: counts survive reloads.
  const again = compileL4Listener({ name: "tcp-5", port: 5, protocol: "TCP", routes: [route("first", null)] });
  assert.equal(again.route!.picker.choose(0.5, 0.5)!.backend.cells!.ok.n, before + 1);
});
