// ProxyDataPlane.rehearse: the delta path run on the serving snapshot (with a virtual host compiled
// anew when given a sample) changes nothing that serves, and gives way to a real apply.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { ProxyDataPlane, sampleVhost } from "../../../src/proxy/data-plane.js";
import type { IrConfig, Snapshot } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";

function config(port: number, hosts: string[]): IrConfig {
  return {
    clusters: [],
    listeners: [
      {
        name: `http-${port}`,
        port,
        protocol: "HTTP",
        gatewayListeners: [
          {
            name: "default/gw/http",
            hostname: null,
            tls: null,
            virtualHosts: hosts.map((hostname) => ({
              hostname,
              routes: [
                {
                  name: `httproute/default/${hostname}/rule/0/match/0`,
                  ref: { kind: "HTTPRoute", namespace: "default", name: hostname, rule: 0, match: 0 },
                  match: { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] },
                  filters: {},
                  action: { type: "direct", status: 200, body: hostname },
                },
              ],
            })),
          },
        ],
      },
    ],
  };
}

function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

test("rehearse compiles the serving snapshot's delta path without changing what serves, and stops for a real apply", async () => {
  const port = await freePort();
  const plane = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1", drainMs: 100 });
  try {
    const s1: Snapshot = { version: 1, hash: "h1", config: config(port, ["a.test", "b.test"]) };
    const res = await plane.apply(s1);
    assert.deepEqual(res.map((r) => r.ok), [true]);
    const base = plane.deltaBase(s1);
    assert.ok(base);
    assert.equal(await plane.rehearse(base, 3), 3);
    assert.equal(plane.compiledVhosts, 2, "the counters of the last real apply are kept");
    assert.deepEqual(await get(port, "a.test"), { status: 200, body: "a.test" });
    assert.deepEqual(await get(port, "b.test"), { status: 200, body: "b.test" });
    // An apply queued: the rehearsal gives way at once.
    const s2: Snapshot = { version: 2, hash: "h2", config: config(port, ["a.test", "c.test"]) };
    const applying = plane.apply(s2);
    assert.equal(await plane.rehearse(base, 3), 0);
    await applying;
    // And the old base no longer serves: nothing to rehearse.
    assert.equal(await plane.rehearse(base, 3), 0);
    assert.deepEqual(await get(port, "c.test"), { status: 200, body: "c.test" });
  } finally {
    await plane.close();
  }
});

test("rehearse with a sample compiles that virtual host anew from JSON, as a delta brings it, and serving stays as it was", async () => {
  const port = await freePort();
  const plane = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1", drainMs: 100 });
  try {
    const s1: Snapshot = { version: 1, hash: "h1", config: config(port, ["a.test", "b.test"]) };
    await plane.apply(s1);
    const sample = sampleVhost(s1);
    assert.ok(sample);
    assert.deepEqual([sample.listener, sample.gateway, sample.index], [0, 0, 1], "the last virtual host with routes");
    assert.equal((JSON.parse(sample.json) as { hostname: string }).hostname, "b.test");
    const base = plane.deltaBase(s1);
    assert.ok(base);
    assert.equal(await plane.rehearse(base, 3, sample), 3);
    // Another host in the sample's place: compiled in the rehearsal, never served.
    const other = { ...sample, json: JSON.stringify({ ...(JSON.parse(sample.json) as object), hostname: "z.test" }) };
    assert.equal(await plane.rehearse(base, 2, other), 2);
    assert.equal(plane.compiledVhosts, 2, "the counters of the last real apply are kept");
    assert.deepEqual(await get(port, "a.test"), { status: 200, body: "a.test" });
    assert.deepEqual(await get(port, "b.test"), { status: 200, body: "b.test" });
    assert.equal((await get(port, "z.test")).status, 404);
    // The sample's routes are compiled: a path pattern that does not compile stops the rehearsal at its first run.
    const bad = JSON.parse(sample.json) as { routes: { match: { path: unknown } }[] };
    bad.routes[0]!.match.path = { type: "RegularExpression", value: "(" };
    assert.equal(await plane.rehearse(base, 3, { ...sample, json: JSON.stringify(bad) }), 0);
    assert.deepEqual(await get(port, "b.test"), { status: 200, body: "b.test" });
  } finally {
    await plane.close();
  }
});
