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
  // Round robin: e2 answers every third request; its third 500 ejects it. The gateway counts the
  // 500 before passing it on, so the ejection starts no later than the last 500 arrives here.
  let ejectedAt = 0;
  let clean = 0;
  const t0 = Date.now();
  while (clean < 12 && Date.now() - t0 < 5000) {
    const r = await hit(port, "/three");
    if (r.status === 500) {
      ejectedAt = Date.now();
      clean = 0;
    } else clean++;
  }
  assert.equal(clean, 12, "e2 was not ejected");
  assert.ok(ejectedAt > 0);
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
  const gaps: number[] = [];
  const t0 = Date.now();
  // Bounded: stop once two ejections were seen, or after 6 s.
  while (Date.now() - t0 < 6000 && gaps.length < 2) {
    const r = await hit(port, "/grow");
    if (r.pod !== "g1") continue;
    const now = Date.now() - t0;
    const prev = seen[seen.length - 1];
    if (prev !== undefined && now - prev > 200) gaps.push(now - prev);
    seen.push(now);
  }
  grow[1]!.failStatus = 0;
  t.diagnostic(`ejections seen as gaps in g1's answers: ${gaps.join(", ")} ms (base 400 ms)`);
  assert.equal(gaps.length, 2, `ejection gaps ${gaps} (g1 answered at ${seen})`);
  // The review runs every 50 ms; a loaded machine can only make the gaps longer, not shorter.
  assert.ok(gaps[0]! >= 380, `first ejection ${gaps[0]} ms (base 400 ms)`);
  assert.ok(gaps[1]! >= 780 && gaps[1]! > gaps[0]! * 1.5, `second ejection ${gaps[1]} ms after a first of ${gaps[0]} ms (2 x 400 ms)`);
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
