// The flow stream of a real gateway (two workers): `sluice observe` processes print the L7 and L4
// records of traffic made while they run, with their filters applied; GET /flows serves the recent
// flows from the workers' rings with the same filters.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import http from "node:http";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import type { FlowRecord } from "../../../src/observe/flow-record.js";
import { GatewayProcess, SLUICE, freePort } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../../helpers/gateway-yaml.js";
import { tcpEcho, tcpExchange, type TcpBackend } from "../../helpers/tcp-echo.js";
import { BACKEND, get, until } from "./fixtures.js";

let gw: GatewayProcess;
let echo: EchoServer;
let tcpBackend: TcpBackend;
let p1: number, p2: number, tcpPort: number;

before(async () => {
  echo = await startEchoServer({ pod: "echo-a" });
  tcpBackend = await tcpEcho("t");
  [p1, p2, tcpPort] = await Promise.all([freePort(), freePort(), freePort()]);
  gw = await GatewayProcess.start({
    workers: 2,
    files: {
      "gw.yaml": `${gatewayYaml("gw", [`{name: web, port: ${p1}, protocol: HTTP}`, `{name: other, port: ${p2}, protocol: HTTP}`, `{name: raw, port: ${tcpPort}, protocol: TCP}`], "namespace: default")}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}, {name: gw, sectionName: other}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{group: sluice.dev, kind: Backend, name: echo-a, port: ${echo.port}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: plain, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: raw}]
  rules: [{backendRefs: [{group: sluice.dev, kind: Backend, name: t}]}]
`,
      "backends.yaml": BACKEND("echo-a", echo.port) + "---\n" + backendYaml("t", tcpBackend.port),
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  tcpBackend?.server.close();
});

interface Observer {
  proc: ChildProcess;
  lines: string[];
  stderr: string;
  stop(): Promise<number | null>;
}

function observe(...args: string[]): Observer {
  const proc = spawn(process.execPath, [SLUICE, "observe", "--admin", gw.admin(""), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const o: Observer = {
    proc,
    lines: [],
    stderr: "",
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
        proc.kill("SIGINT");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      return proc.exitCode;
    },
  };
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!;
    o.lines.push(...parts.filter((l) => l !== ""));
  });
  proc.stderr!.on("data", (d: Buffer) => (o.stderr += d.toString()));
  return o;
}

async function subscribers(): Promise<number> {
  const r = await fetch(gw.admin("/flows/status"));
  return ((await r.json()) as { subscribers: number }).subscribers;
}

async function ndjson(path: string): Promise<FlowRecord[]> {
  const r = await fetch(gw.admin(path));
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get("content-type"), "application/x-ndjson");
  return (await r.text()).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as FlowRecord);
}

test("sluice observe prints the flows made while it runs, filtered; GET /flows serves the recent ones", async () => {
  const byPort = observe("-o", "json", "--port", String(p1));
  const dropped = observe("-o", "json", "--verdict", "dropped");
  const tcp = observe("-o", "json", "--protocol", "tcp", "--to", "default/plain");
  const stops = [byPort, dropped, tcp];
  try {
    await until("three observers connected", 10_000, async () => (await subscribers()) === 3);
    const tag = `t${Date.now()}`;
    // No keep-alive: connections spread over both workers.
    const fresh = { agent: new http.Agent({ keepAlive: false }) };
    for (const path of ["/api/one", "/api/two", "/api/three"]) assert.equal((await get(p1, `${path}?${tag}`, fresh)).status, 200);
    assert.equal((await get(p1, `/nothing?${tag}`, fresh)).status, 404);
    assert.equal((await get(p2, `/api/elsewhere?${tag}`, fresh)).status, 200);
    const payload = Buffer.from("hello over tcp");
    const reply = await tcpExchange(tcpPort, payload);
    assert.deepEqual(reply.subarray(0, payload.length), payload);

    await until("the port observer's four records", 10_000, async () => byPort.lines.length >= 4);
    await until("the dropped observer's record", 10_000, async () => dropped.lines.length >= 1);
    await until("the tcp observer's record", 10_000, async () => tcp.lines.length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // anything filtered out would have arrived by now

    const seen = byPort.lines.map((l) => JSON.parse(l) as FlowRecord);
    assert.deepEqual(seen.map((r) => `${r.http?.path} ${r.http?.status} ${r.verdict}`).sort(), [
      `/api/one?${tag} 200 forwarded`,
      `/api/three?${tag} 200 forwarded`,
      `/api/two?${tag} 200 forwarded`,
      `/nothing?${tag} 404 dropped`,
    ]);
    for (const r of seen) {
      assert.equal(r.source, "l7");
      assert.equal(r.type, "request");
      assert.equal(r.app, "HTTP");
      assert.equal(r.protocol, "TCP");
      assert.equal(r.http?.method, "GET");
      assert.equal(r.http?.host, `127.0.0.1:${p1}`);
      assert.equal(r.src.ip, "127.0.0.1");
      assert.ok(r.src.port > 0);
      assert.deepEqual(r.dst, { ip: "127.0.0.1", port: p1 });
      assert.equal(r.listener, "default/gw/web");
      assert.ok(typeof r.durationMs === "number" && r.durationMs >= 0);
      assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 30_000);
      if (r.verdict === "forwarded") {
        assert.match(r.route ?? "", /^httproute\/default\/api\//);
        assert.match(r.backend ?? "", /echo-a/);
        assert.ok((r.bytesOut ?? 0) > 0);
      } else assert.equal(r.backend, null);
    }

    const drops = dropped.lines.map((l) => JSON.parse(l) as FlowRecord);
    assert.deepEqual(drops.map((r) => r.http?.path), [`/nothing?${tag}`], "only the refused request");

    const conns = tcp.lines.map((l) => JSON.parse(l) as FlowRecord);
    assert.equal(conns.length, 1, "HTTP records are TCP too but go to other routes; only the TCPRoute's connection matches");
    const c = conns[0]!;
    assert.equal(c.source, "l4");
    assert.equal(c.verdict, "forwarded");
    assert.match(c.route ?? "", /^tcproute\/default\/plain/);
    assert.equal(c.dst.port, tcpPort);
    assert.equal(c.src.ip, "127.0.0.1");
    assert.equal(c.bytes, payload.length);
    assert.equal(c.bytesOut, reply.length);

    // The admin API: recent flows from both workers' rings, filtered on the server.
    const recent = await ndjson(`/flows?last=1000&protocol=http`);
    const mine = recent.filter((r) => r.http?.path.endsWith(tag));
    assert.equal(mine.length, 5, "every request of this test is in the recent flows");
    assert.deepEqual(recent.map((r) => r.time), [...recent.map((r) => r.time)].sort(), "oldest first");
    const other = (await ndjson(`/flows?port=${p2}&to=default/api`)).filter((r) => r.http?.path.endsWith(tag));
    assert.deepEqual(other.map((r) => r.http?.path), [`/api/elsewhere?${tag}`]);
    const bad = await fetch(gw.admin("/flows?verdict=maybe&port=70000"));
    assert.equal(bad.status, 400);
    const why = await bad.text();
    assert.match(why, /verdict/);
    assert.match(why, /port/);

    // A one-shot text listing through the CLI.
    const once = spawnSync(process.execPath, [SLUICE, "observe", "--admin", gw.admin(""), "--no-follow", "--last", "50", "--port", String(p2)], { encoding: "utf8", timeout: 15_000 });
    assert.equal(once.status, 0, once.stderr);
    const textLines = once.stdout.split("\n").filter((l) => l.includes(tag));
    assert.equal(textLines.length, 1);
    assert.match(textLines[0]!, new RegExp(`127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${p2}\\s+FORWARDED\\s+HTTP\\s+GET 127\\.0\\.0\\.1:${p2}/api/elsewhere`));
  } finally {
    for (const o of stops) assert.equal(await o.stop(), 0, o.stderr);
  }
  await until("followers gone", 5000, async () => (await subscribers()) === 0);
});

test("sluice observe: bad filters are usage errors; an unreachable gateway exits 1", async () => {
  const bad = spawnSync(process.execPath, [SLUICE, "observe", "--from", "10.0.0.0/99"], { encoding: "utf8", timeout: 15_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid prefix length/);
  const port = await freePort();
  const down = spawnSync(process.execPath, [SLUICE, "observe", "--admin", `http://127.0.0.1:${port}`], { encoding: "utf8", timeout: 15_000 });
  assert.equal(down.status, 1);
  assert.match(down.stderr, /cannot query/);
});
