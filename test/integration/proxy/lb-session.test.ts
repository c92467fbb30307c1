// Session persistence (Gateway API sessionPersistence on an HTTPRoute rule) and slow start, through a
// real gateway process: a cookie session keeps a client on one endpoint (and the cookie carries the
// rule's path and Max-Age); a header session likewise; an idle timeout refreshes the token on every
// response; a session whose endpoint turns unhealthy moves; a new endpoint's share ramps up over
// the slow-start window.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, eventually, GATEWAY, hit, policyYaml, routeYaml, steeredEcho, type Steered } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
const e: Steered[] = [];
const be = (name: string) => `{ group: sluice.dev, kind: Backend, name: ${name} }`;

function slowBackend(n: number): string {
  return backendYaml("ramp", e.slice(0, n).map((x) => ({ port: x.server.port })));
}

before(async () => {
  for (let i = 0; i < 3; i++) e.push(await steeredEcho(`e${i}`));
  port = await freePort();
  const three = e.map((x) => ({ port: x.server.port }));
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml": backendYaml("three", three),
      "ramp.yaml": slowBackend(1),
      "routes.yaml": [
        routeYaml("cookie", "/shop", be("three"), "      sessionPersistence: { sessionName: cart, absoluteTimeout: 1h, cookieConfig: { lifetimeType: Permanent } }\n"),
        routeYaml("header", "/api", be("three"), "      sessionPersistence: { type: Header, sessionName: X-Session }\n"),
        routeYaml("idle", "/idle", be("three"), "      sessionPersistence: { sessionName: idle, idleTimeout: 1h }\n"),
        routeYaml("ramp", "/ramp", be("ramp")),
      ].join(""),
      "policies.yaml": [
        policyYaml("health", `{ group: sluice.dev, kind: Backend, name: three }`, "  healthCheck: { active: { type: HTTP, interval: 100ms, unhealthyThreshold: 1, healthyThreshold: 1, http: { path: /healthz } } }\n"),
        policyYaml("ramp", `{ group: sluice.dev, kind: Backend, name: ramp }`, "  loadBalancer: { type: RoundRobin, slowStart: { window: 3s } }\n"),
      ].join(""),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const s of e) await s.server.close();
});

test("cookie session: the first response sets it; requests carrying it stay on one endpoint", async () => {
  const first = await hit(port, "/shop/cart");
  const set = String(first.headers["set-cookie"] ?? "");
  assert.match(set, /^cart=[0-9a-f]{16}\.[0-9a-z]+\.[0-9a-z]+; Path=\/shop; HttpOnly; Max-Age=3600$/);
  const cookie = set.split(";")[0]!;
  const pods = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await hit(port, "/shop/cart", { cookie: `other=1; ${cookie}` });
    pods.add(r.pod);
    assert.equal(r.headers["set-cookie"], undefined, "a live session without idle timeout is not re-stamped");
  }
  assert.deepEqual([...pods], [first.pod]);
  // Without the cookie, round robin spreads the requests.
  const free = new Set<string>();
  for (let i = 0; i < 6; i++) free.add((await hit(port, "/shop/cart")).pod);
  assert.equal(free.size, 3);
});

test("header session: the token comes back in the named response header and keeps the client in place", async () => {
  const first = await hit(port, "/api/x");
  const token = String(first.headers["x-session"] ?? "");
  assert.match(token, /^[0-9a-f]{16}$/);
  for (let i = 0; i < 12; i++) assert.equal((await hit(port, "/api/x", { "x-session": token })).pod, first.pod);
  const bogus = await hit(port, "/api/x", { "x-session": "0123456789abcdef" });
  assert.equal(bogus.status, 200);
  assert.match(String(bogus.headers["x-session"]), /^[0-9a-f]{16}$/, "an unknown token gets a new session");
});

test("idle timeout: every response refreshes the session token (same endpoint, same start)", async () => {
  const first = await hit(port, "/idle");
  const c1 = String(first.headers["set-cookie"]).split(";")[0]!;
  assert.doesNotMatch(String(first.headers["set-cookie"]), /Max-Age/, "a Session cookie has no Max-Age");
  const second = await hit(port, "/idle", { cookie: c1 });
  assert.equal(second.pod, first.pod);
  const c2 = String(second.headers["set-cookie"] ?? "").split(";")[0]!;
  assert.equal(c2.split(".")[0], c1.split(".")[0], "same endpoint");
  assert.equal(c2.split(".")[1], c1.split(".")[1], "same session start");
});

test("a session whose endpoint fails its health check moves to a healthy one", async () => {
  const first = await hit(port, "/shop/");
  const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
  const owner = e.find((x) => x.pod === first.pod)!;
  owner.healthStatus = 503;
  try {
    await eventually("the session moves", async () => (await hit(port, "/shop/", { cookie })).pod !== first.pod, 5000);
    const moved = await hit(port, "/shop/", { cookie });
    assert.notEqual(moved.pod, first.pod);
    assert.match(String(moved.headers["set-cookie"]), /^cart=/, "the client gets the new session");
  } finally {
    owner.healthStatus = 200;
  }
});

test("slow start: a new endpoint's share ramps up over the window", async (t) => {
  const v = (await gw.readyState())!.version;
  gw.write("ramp.yaml", slowBackend(2));
  await gw.waitReady(v + 1);
  const t0 = Date.now();
  const shares: number[] = [];
  // Three slices of the 3 s window: the new endpoint's share grows from about 10% toward 50%.
  for (let slice = 0; slice < 3; slice++) {
    let n = 0;
    let newOne = 0;
    while (Date.now() - t0 < (slice + 1) * 1000) {
      const r = await hit(port, "/ramp");
      n++;
      if (r.pod === "e1") newOne++;
    }
    shares.push(newOne / n);
  }
  await new Promise((r) => setTimeout(r, Math.max(0, 3300 - (Date.now() - t0))));
  let n = 0;
  let newOne = 0;
  for (; n < 200; n++) if ((await hit(port, "/ramp")).pod === "e1") newOne++;
  const last = newOne / n;
  t.diagnostic(`new endpoint share per second of the window: ${shares.map((x) => x.toFixed(2)).join(", ")}; after it: ${last.toFixed(2)}`);
  assert.ok(shares[0]! < 0.3, `first second share ${shares[0]}`);
  assert.ok(shares[0]! < shares[2]!, `no ramp: ${shares}`);
  assert.ok(Math.abs(last - 0.5) < 0.05, `after the window: ${last}`);
});
