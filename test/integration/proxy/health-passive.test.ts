// Passive health (outlier detection) through a real gateway process: consecutive 5xx eject an
// endpoint, it comes back after the ejection time, a repeat offender stays out longer each time,
// max ejection percent keeps others in, connection failures count, and a backend whose only
// endpoint is ejected answers 503 saying why.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, eventually, GATEWAY, hit, policyYaml, routeYaml, steeredEcho, tally, type Steered } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
const e: Steered[] = [];
let solo: Steered;
let grow: Steered[] = [];
let deadPort = 0;
const be = (name: string) => `{ group: sluice.dev, kind: Backend, name: ${name} }`;

before(async () => {
  for (let i = 0; i < 3; i++) e.push(await steeredEcho(`e${i}`));
  solo = await steeredEcho("solo");
  grow = [await steeredEcho("g0"), await steeredEcho("g1")];
  deadPort = await freePort(); // nothing listens there: connection refused
  port = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml":
        backendYaml("three", e.map((x) => ({ port: x.server.port }))) +
        backendYaml("solo", [{ port: solo.server.port }]) +
        backendYaml("grow", grow.map((x) => ({ port: x.server.port }))) +
        backendYaml("dead", [{ port: e[0]!.server.port }, { port: deadPort }]),
      "routes.yaml": routeYaml("three", "/three", be("three")) + routeYaml("solo", "/solo", be("solo")) + routeYaml("grow", "/grow", be("grow")) + routeYaml("dead", "/dead", be("dead")),
      "policies.yaml":
        // At most one of three out at once (34%): the second offender stays in.
        policyYaml("three", be("three"), "  healthCheck: { passive: { consecutive5XxErrors: 3, interval: 100ms, baseEjectionTime: 1s, maxEjectionPercent: 34 } }\n") +
        policyYaml("solo", be("solo"), "  healthCheck: { passive: { consecutive5XxErrors: 2, interval: 100ms, baseEjectionTime: 30s } }\n") +
        policyYaml("grow", be("grow"), "  healthCheck: { passive: { consecutive5XxErrors: 2, interval: 50ms, baseEjectionTime: 400ms, maxEjectionPercent: 50 } }\n") +
        policyYaml("dead", be("dead"), "  healthCheck: { passive: { consecutive5XxErrors: 2, interval: 100ms, baseEjectionTime: 30s, maxEjectionPercent: 50 } }\n"),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const s of [...e, solo, ...grow]) await s?.server.close();
});

test("consecutive 5xx eject an endpoint; max ejection percent keeps a second offender in; the first returns after the ejection time", async () => {
  e[2]!.failStatus = 500;
  // Round robin: e2 answers every third request; its third 500 ejects it.
  await eventually("e2 ejected", async () => {
    const c = await tally(port, "/three", 12);
    return !c.has("status:500") && c.get("e0") === 6;
  }, 5000, 0);
  const ejectedAt = Date.now();
  // A second endpoint failing would take 2 of 3 out (67% > 34%): it keeps getting traffic.
  e[1]!.failStatus = 502;
  const c = await tally(port, "/three", 30);
  assert.ok((c.get("status:502") ?? 0) >= 12, `e1 was ejected: ${JSON.stringify([...c])}`);
  assert.ok(!c.has("status:500"), "e2 got traffic while ejected");
  e[1]!.failStatus = 0;
  e[2]!.failStatus = 0;
  await eventually("e2 back", async () => (await tally(port, "/three", 6)).has("e2"), 5000, 20);
  const back = Date.now() - ejectedAt;
  assert.ok(back >= 900, `back after ${back} ms, before the 1 s ejection time`);
});

test("a repeat offender stays out longer each time (n x baseEjectionTime)", async (t) => {
  grow[1]!.failStatus = 503;
  // Steady traffic; record when g1 answers (its 503s): the gaps between its bursts are its ejections.
  const seen: number[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < 2600) {
    const r = await hit(port, "/grow");
    if (r.pod === "g1") seen.push(Date.now() - t0);
  }
  grow[1]!.failStatus = 0;
  const gaps: number[] = [];
  for (let i = 1; i < seen.length; i++) if (seen[i]! - seen[i - 1]! > 200) gaps.push(seen[i]! - seen[i - 1]!);
  t.diagnostic(`ejections seen as gaps in g1's answers: ${gaps.join(", ")} ms (base 400 ms)`);
  assert.ok(gaps.length >= 2, `ejection gaps ${gaps} (503s at ${seen})`);
  assert.ok(gaps[0]! >= 350 && gaps[0]! < 800, `first ejection ${gaps[0]} ms (base 400 ms)`);
  assert.ok(gaps[1]! >= 750, `second ejection ${gaps[1]} ms (2 x 400 ms)`);
});

test("connection failures count as errors: a refused endpoint is ejected", async () => {
  await eventually("dead endpoint ejected", async () => {
    const c = await tally(port, "/dead", 10);
    return c.get("e0") === 10;
  }, 5000, 0);
});

test("the only endpoint ejected: 503 with the reason", async () => {
  solo.failStatus = 500;
  assert.equal((await hit(port, "/solo")).status, 500);
  assert.equal((await hit(port, "/solo")).status, 500);
  solo.failStatus = 0;
  const r = await hit(port, "/solo");
  assert.equal(r.status, 503);
  assert.match(r.body, /^no healthy upstream: all 1 endpoint of backend\/default\/solo is unhealthy: 1 ejected by outlier detection \(127\.0\.0\.1:\d+: 2 consecutive 5xx responses\)\n$/);
});
