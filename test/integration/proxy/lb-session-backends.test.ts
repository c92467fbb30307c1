// Session persistence across the backendRefs of one rule, through a real gateway process: a rule
// weighted 1:1 over two Backends (two endpoints each) with a cookie session, and one with a header
// session. A request carrying a live session goes to the endpoint it names whichever backend holds
// it, instead of being weighted to the other backend (where it would have started a new session).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, GATEWAY, hit, policyYaml, routeYaml, steeredEcho, type Steered } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
const e: Steered[] = [];
const be = (name: string, weight = 1) => `{ group: sluice.dev, kind: Backend, name: ${name}, weight: ${weight} }`;

before(async () => {
  for (let i = 0; i < 4; i++) e.push(await steeredEcho(`e${i}`));
  port = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml": backendYaml("left", e.slice(0, 2).map((x) => ({ port: x.server.port }))) + backendYaml("right", e.slice(2).map((x) => ({ port: x.server.port }))),
      "routes.yaml":
        routeYaml("cookie", "/shop", `${be("left")}, ${be("right")}`, "      sessionPersistence: { sessionName: cart }\n") +
        routeYaml("header", "/api", `${be("left")}, ${be("right")}`, "      sessionPersistence: { type: Header, sessionName: X-Session }\n"),
      "policies.yaml": ["left", "right"]
        .map((n) => policyYaml(`health-${n}`, `{ group: sluice.dev, kind: Backend, name: ${n} }`, "  healthCheck: { active: { type: HTTP, interval: 100ms, unhealthyThreshold: 1, healthyThreshold: 1, http: { path: /healthz } } }\n"))
        .join(""),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const x of e) await x.server.close();
});

/** The pods `n` requests with these headers reach, with how often. */
async function reached(path: string, headers: Record<string, string>, n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await hit(port, path, headers);
    assert.equal(r.status, 200, r.body);
    out.set(r.pod, (out.get(r.pod) ?? 0) + 1);
  }
  return out;
}

test("without a session, requests are weighted over both backends", async () => {
  const pods = await reached("/shop", {}, 24);
  assert.ok([...pods.keys()].some((p) => p === "e0" || p === "e1"), `left got none: ${JSON.stringify([...pods])}`);
  assert.ok([...pods.keys()].some((p) => p === "e2" || p === "e3"), `right got none: ${JSON.stringify([...pods])}`);
});

test("cookie session: every request carrying it reaches its endpoint, whichever backend holds it", async () => {
  // One session on each side, so both backends are shown to keep their sessions.
  const sessions = new Map<string, string>();
  for (let i = 0; i < 40 && sessions.size < 4; i++) {
    const r = await hit(port, "/shop");
    const cookie = String(r.headers["set-cookie"] ?? "").split(";")[0]!;
    if (!sessions.has(r.pod)) sessions.set(r.pod, cookie);
  }
  assert.ok([...sessions.keys()].some((p) => p < "e2") && [...sessions.keys()].some((p) => p >= "e2"), `sessions on ${[...sessions.keys()].join(", ")}`);
  for (const [pod, cookie] of sessions) {
    const pods = await reached("/shop", { cookie }, 20);
    assert.deepEqual([...pods], [[pod, 20]], `session ${cookie} of ${pod}`);
  }
});

test("header session: the same across backends", async () => {
  const first = await hit(port, "/api");
  const token = String(first.headers["x-session"] ?? "");
  assert.ok(token.length > 0, "the response carries X-Session");
  const pods = await reached("/api", { "x-session": token }, 20);
  assert.deepEqual([...pods], [[first.pod, 20]]);
});

test("a session whose endpoint turns unhealthy is weighted again and gets a new session", async () => {
  const first = await hit(port, "/shop");
  const cookie = String(first.headers["set-cookie"] ?? "").split(";")[0]!;
  const sick = e.find((x) => x.pod === first.pod)!;
  sick.healthStatus = 503;
  try {
    const deadline = Date.now() + 5000;
    let moved: Awaited<ReturnType<typeof hit>> | null = null;
    while (Date.now() < deadline && moved === null) {
      const r = await hit(port, "/shop", { cookie });
      if (r.pod !== first.pod) moved = r;
      else await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(moved, `still on ${first.pod} after it failed its health checks`);
    assert.match(String(moved.headers["set-cookie"] ?? ""), /^cart=/, "a new session is handed out");
  } finally {
    sick.healthStatus = 200;
  }
});
