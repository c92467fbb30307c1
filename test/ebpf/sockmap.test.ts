// Socket acceleration through a real `sluice run`: an HTTPRoute to a demo backend on 127.0.0.1,
// in a temporary child cgroup made for the test. With acceleration on, responses are the same
// bytes the backend sends when asked directly and the sockmap counters show redirected messages;
// the test's own connections (outside the cgroup) are not in the map, and a connection to a
// backend outside the cgroup leaves it after its first request; with --no-sockmap the counters
// stay at 0 and no cgroup is created.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { GatewayProcess, freePort, SLUICE } from "../helpers/gateway.js";
import { backendRef, backendYaml, gatewayYaml, l4RouteYaml } from "../helpers/gateway-yaml.js";
import { httpCall } from "../helpers/http.js";
import { mountsOfType } from "../../src/ebpf/capabilities.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "socket acceleration needs Linux";
  if (process.getuid?.() !== 0) return "socket acceleration tests need root (CI runs them as root)";
  if (!existsSync(fileURLToPath(new URL("../../dist/bpf/sockops.bpf.o", import.meta.url)))) return "dist/bpf/sockops.bpf.o is missing: run `npm run build` with clang";
  if (mountsOfType("cgroup2").length === 0) return "no cgroup2 mount";
  return undefined;
}
const skip = skipReason();

/** A child of the cgroup2 mount the gateway will pick (hybrid layouts: .../unified). */
function testCgroup(): string {
  const mounts = mountsOfType("cgroup2");
  const mount = mounts.find((m) => m === "/sys/fs/cgroup/unified") ?? mounts.find((m) => m === "/sys/fs/cgroup") ?? mounts[0]!;
  return join(mount, `sluice-test-${process.pid}-${Math.floor(Math.random() * 1e9)}`);
}

const cgroups: string[] = [];
after(() => {
  // A gateway that stopped cleanly removed its cgroup; one that did not leaves an empty one.
  for (const c of cgroups) if (existsSync(c)) rmdirSync(c);
});

function config(listenPort: number, backendPort: number, demo = true): string {
  return `${gatewayYaml("gw", [`{name: http, port: ${listenPort}, protocol: HTTP}`])}---
${backendYaml("echo", backendPort, "default", demo ? "sluice.dev/demo: echo" : "")}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: sluice.dev, kind: Backend, name: echo}]}]
`;
}

/** GET with a keep-alive agent; resolves the status and the body's bytes. */
async function get(port: number, headers: Record<string, string>, agent: http.Agent): Promise<{ status: number; body: Buffer }> {
  const r = await httpCall(port, "/", { headers, agent, timeoutMs: 10_000 });
  return { status: r.status, body: r.bytes };
}

async function metric(gw: GatewayProcess, name: string): Promise<number> {
  const text = await (await fetch(gw.admin("/metrics"))).text();
  const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, "m").exec(text);
  assert.ok(m, `${name} is not in /metrics`);
  return Number(m[1]);
}

async function startGateway(extra: string[], cgroup: string): Promise<{ gw: GatewayProcess; port: number; backendPort: number }> {
  const [port, backendPort] = await Promise.all([freePort(), freePort()]);
  const gw = await GatewayProcess.start({ files: { "gw.yaml": config(port, backendPort) }, args: ["--demo-backends", "--cgroup", cgroup, ...extra] });
  return { gw, port, backendPort };
}

/** Waits (bounded) until the demo backend answers directly. */
async function waitBackend(port: number, agent: http.Agent): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await get(port, {}, agent);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test("sockmap on: the gateway runs in its own cgroup, responses are byte-identical, the map counts redirected messages", { skip }, async () => {
  const cgroup = testCgroup();
  cgroups.push(cgroup);
  const { gw, port, backendPort } = await startGateway([], cgroup);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.match(gw.stderr, /socket acceleration \(sockmap\) on/);
    // Control and worker moved in (the demo backends run in the control process).
    const procs = readFileSync(join(cgroup, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    assert.ok(procs.includes(gw.proc.pid!), `gateway pid ${gw.proc.pid} in ${procs.join(",")}`);
    assert.ok(procs.length >= 2, `control + worker in the cgroup, got ${procs.join(",")}`);
    assert.equal(await metric(gw, "sluice_sockmap_enabled"), 1);
    await waitBackend(backendPort, direct);

    const before = await metric(gw, "sluice_sockmap_redirected_bytes_total");
    for (const size of [20, 1024 * 1024]) {
      const headers = { "x-echo-body-bytes": String(size) };
      const [viaGateway, fromBackend] = [await get(port, headers, agent), await get(backendPort, headers, direct)];
      assert.equal(viaGateway.status, 200);
      assert.equal(viaGateway.body.length, size);
      assert.ok(viaGateway.body.equals(fromBackend.body), `the ${size}-byte body differs from the backend's`);
    }
    // Several requests on one connection: the pooled upstream connection is reused.
    for (let i = 0; i < 5; i++) assert.equal((await get(port, { "x-echo-body-bytes": "100" }, agent)).body.length, 100);

    const msgs = await metric(gw, "sluice_sockmap_redirected_messages_total");
    const bytes = await metric(gw, "sluice_sockmap_redirected_bytes_total");
    assert.ok(msgs >= 7, `redirected messages ${msgs}`);
    // The 1 MiB response went socket to socket (backend -> worker), and the requests the other way.
    assert.ok(bytes - before >= 1024 * 1024, `redirected bytes grew by ${bytes - before}`);
    assert.ok((await metric(gw, 'sluice_sockmap_sockets_total{result="added"}')) >= 2);
    // The test's connections come from outside the cgroup: never stored, so the gateway's
    // responses to them do not go through sk_msg (at most the first request to the backend can,
    // when it is sent before the backend's end is stored).
    assert.ok((await metric(gw, 'sluice_sockmap_sockets_total{result="skipped"}')) >= 2);
    const passed = await metric(gw, "sluice_sockmap_passed_messages_total");
    assert.ok(passed <= 1, `messages through sk_msg without a redirect: ${passed}`);
    assert.equal(await metric(gw, 'sluice_sockmap_sockets_total{result="dropped"}'), 0);

    // `sluice doctor` (another process) finds this gateway's map and its counters.
    const doc = spawnSync(process.execPath, [SLUICE, "doctor", "-o", "json"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(doc.status, 0, doc.stderr);
    const report = JSON.parse(doc.stdout) as { sockmap: { loads: boolean; cgroups: { path: string; processes: number }[]; live: { counters: { redirectedBytes: number } }[] } };
    assert.equal(report.sockmap.loads, true);
    assert.ok(report.sockmap.live.some((m) => m.counters.redirectedBytes >= bytes), JSON.stringify(report.sockmap.live));
  } finally {
    agent.destroy();
    direct.destroy();
    assert.equal(await gw.stop(), 0);
  }
  assert.equal(existsSync(cgroup), false, "the cgroup is removed at stop");
});

test("sockmap on, backend outside the cgroup: its connection leaves the map after the first request, later ones skip sk_msg", { skip }, async () => {
  const cgroup = testCgroup();
  cgroups.push(cgroup);
  // A backend in this test process: same host, not in the gateway's cgroup.
  let served = 0;
  const backend = http.createServer((req, res) => {
    served++;
    req.resume();
    req.on("end", () => res.end(Buffer.alloc(4096, "y")));
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  const backendPort = (backend.address() as { port: number }).port;
  const port = await freePort();
  const gw = await GatewayProcess.start({ files: { "gw.yaml": config(port, backendPort, false) }, args: ["--cgroup", cgroup] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.match(gw.stderr, /socket acceleration \(sockmap\) on/);
    const first = await get(port, {}, agent);
    assert.equal(first.status, 200);
    assert.ok(first.body.equals(Buffer.alloc(4096, "y")));
    // The gateway's upstream socket was stored (peer on this host) and its request passed
    // through sk_msg without a target; the acknowledgement of that request took it out again.
    const deadline = Date.now() + 5000;
    while ((await metric(gw, 'sluice_sockmap_sockets_total{result="dropped"}')) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await metric(gw, 'sluice_sockmap_sockets_total{result="added"}')) >= 1);
    assert.ok((await metric(gw, 'sluice_sockmap_sockets_total{result="dropped"}')) >= 1);
    const passedAfterFirst = await metric(gw, "sluice_sockmap_passed_messages_total");
    assert.ok(passedAfterFirst >= 1, `passed ${passedAfterFirst}`);
    for (let i = 0; i < 10; i++) {
      const r = await get(port, { "x-n": String(i) }, agent);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 4096);
    }
    assert.equal(served, 11);
    // Same pooled upstream connection, now out of the map: no further sends through sk_msg.
    assert.equal(await metric(gw, "sluice_sockmap_passed_messages_total"), passedAfterFirst);
    assert.equal(await metric(gw, "sluice_sockmap_redirected_messages_total"), 0);
  } finally {
    agent.destroy();
    assert.equal(await gw.stop(), 0);
    await new Promise((r) => backend.close(r));
  }
});

test("--no-sockmap: same responses, no cgroup, counters stay 0", { skip }, async () => {
  const cgroup = testCgroup();
  cgroups.push(cgroup);
  const { gw, port, backendPort } = await startGateway(["--no-sockmap"], cgroup);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.match(gw.stderr, /socket acceleration \(sockmap\) is off \(--no-sockmap\)/);
    assert.equal(existsSync(cgroup), false);
    await waitBackend(backendPort, agent);
    const r = await get(port, { "x-echo-body-bytes": String(1024 * 1024) }, agent);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1024 * 1024);
    assert.ok(r.body.equals(Buffer.alloc(1024 * 1024, "x")));
    assert.equal(await metric(gw, "sluice_sockmap_enabled"), 0);
    assert.equal(await metric(gw, "sluice_sockmap_redirected_messages_total"), 0);
    assert.equal(await metric(gw, "sluice_sockmap_redirected_bytes_total"), 0);
  } finally {
    agent.destroy();
    assert.equal(await gw.stop(), 0);
  }
});

test("--cgroup refuses the root cgroup and the gateway runs without acceleration", { skip }, async () => {
  const root = mountsOfType("cgroup2")[0]!;
  const [port, backendPort] = await Promise.all([freePort(), freePort()]);
  const gw = await GatewayProcess.start({ files: { "gw.yaml": config(port, backendPort) }, args: ["--demo-backends", "--cgroup", root] });
  const agent = new http.Agent({ keepAlive: false });
  try {
    assert.match(gw.stderr, /socket acceleration \(sockmap\) is off: refusing to use the root cgroup/);
    await waitBackend(backendPort, agent);
    assert.equal((await get(port, { "x-echo-body-bytes": "64" }, agent)).body.length, 64);
    assert.equal(await metric(gw, "sluice_sockmap_enabled"), 0);
  } finally {
    agent.destroy();
    assert.equal(await gw.stop(), 0);
  }
});

test("without privileges: each kernel feature says why once, and the gateway serves in userspace", { skip }, async (t) => {
  if (spawnSync("setpriv", ["--version"]).status !== 0) return t.skip("setpriv (util-linux) is missing");
  const [port, backendPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), "sluice-sockmap-nopriv-"));
  writeFileSync(join(dir, "gw.yaml"), config(port, backendPort));
  // Root with an empty bounding set: the same files, no capabilities after exec.
  const child = spawn("setpriv", ["--bounding-set=-all", "--inh-caps=-all", process.execPath, SLUICE, "run", "-c", dir, "--workers", "1",
    // --l4-relay kernel: the eBPF splice is only probed (and its absence said) when asked for.
    "--admin-port", String(adminPort), "--access-log", "off", "--listen-address", "127.0.0.1", "--demo-backends", "--l4-relay", "kernel"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const agent = new http.Agent({ keepAlive: false });
  try {
    const deadline = Date.now() + 15_000;
    let body: Buffer | null = null;
    while (Date.now() < deadline && body === null) {
      try {
        const r = await get(port, { "x-echo-body-bytes": "32" }, agent);
        if (r.status === 200) body = r.body;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(body?.equals(Buffer.alloc(32, "x")), `no answer through the gateway:\n${stderr}`);
    const lines = stderr.split("\n");
    assert.equal(lines.filter((l) => l.includes("socket acceleration (sockmap) is off: no privilege to load eBPF programs")).length, 1, stderr);
    assert.equal(lines.filter((l) => l.includes("kernel splicing for L4 routes is off: no privilege")).length, 1, stderr);
  } finally {
    agent.destroy();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const mode of ["uring", "thread"] as const) {
  test(`sockmap on, TCPRoute to a backend in the cgroup: the ${mode} relay reads the psock queue and carries 8 MiB both ways intact`, { skip, timeout: 60_000 }, async () => {
    const cgroup = testCgroup();
    cgroups.push(cgroup);
    const [port, backendPort] = await Promise.all([freePort(), freePort()]);
    const yaml = `${gatewayYaml("gw", [`{name: tcp, port: ${port}, protocol: TCP}`])}---
${backendYaml("echo", backendPort)}${l4RouteYaml("TCPRoute", "raw", "gw", "tcp", backendRef("echo"))}`;
    const gw = await GatewayProcess.start({ files: { "gw.yaml": yaml }, workers: 1, args: ["--cgroup", cgroup, "--l4-relay", mode] });
    // A raw echo backend that joins the gateway's cgroup before it listens: its sockets and the
    // worker's are both stored, so what it sends lands on the worker socket's psock queue, which
    // splice(2) cannot read (the splice relay copies that direction) and recv reads as usual.
    const echo = spawn(process.execPath, ["-e", `
    require("node:fs").writeFileSync(${JSON.stringify(join(cgroup, "cgroup.procs"))}, String(process.pid));
    const s = require("node:net").createServer({ allowHalfOpen: true }, (c) => { c.on("error", () => c.destroy()); c.pipe(c); });
    s.listen(${backendPort}, "127.0.0.1", () => console.log("ready"));
    process.stdin.on("end", () => process.exit(0)); process.stdin.resume();`], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        echo.once("exit", (c) => reject(new Error(`echo backend exited ${c}`)));
        echo.stdout!.once("data", () => resolve());
      });
      const before = await metric(gw, "sluice_sockmap_redirected_bytes_total");
      const payload = randomBytes(8 * 1024 * 1024);
      const got = await new Promise<Buffer>((resolve, reject) => {
        const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
        const chunks: Buffer[] = [];
        let n = 0;
        const t = setTimeout(() => {
          s.destroy();
          reject(new Error(`timeout: ${n} of ${payload.length} bytes came back`));
        }, 30_000);
        s.on("data", (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (n >= payload.length) s.end();
        });
        s.on("error", reject);
        s.on("close", () => {
          clearTimeout(t);
          resolve(Buffer.concat(chunks));
        });
        s.write(payload);
      });
      assert.equal(got.length, payload.length);
      assert.ok(got.equals(payload), "the echo differs from what was sent");
      const text = await (await fetch(gw.admin("/metrics"))).text();
      assert.match(text, new RegExp(`^sluice_l4_splice_connections_total\\{path="${mode}"\\} 1$`, "m"));
      const moved = (await metric(gw, "sluice_sockmap_redirected_bytes_total")) - before;
      // Worker -> backend and backend -> worker went socket to socket: the psock path was used.
      assert.ok(moved >= payload.length, `sockmap redirected ${moved} bytes`);
    } finally {
      echo.stdin!.end();
      assert.equal(await gw.stop(), 0);
    }
  });
}
