// The merged flow stream end to end: a real `sluice run --interface <veth>` inside the server
// namespace with a CiliumNetworkPolicy, `sluice observe` following it from the same namespace, and
// clients in the client namespace. One stream carries the kernel's new-flow and drop events and the
// proxy's HTTP records. Ports are fixed: they live in namespaces only this test uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLUICE } from "../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../helpers/gateway-yaml.js";
import type { FlowRecord } from "../../src/observe/flow-record.js";
import { CLIENT_V4, SERVER_V4, createTopology, kernelTestSkipReason, sleep, type Topology } from "./netns.js";

const skip = kernelTestSkipReason() ?? (spawnSync("curl", ["--version"]).status === 0 ? undefined : "curl is missing");
const [GOOD, , BAD] = CLIENT_V4; // 10.77.1.1, 10.77.2.1
const PORT = 8080;
const ADMIN = 9901;

const CONFIG = `${gatewayYaml("edge", [`{name: http, protocol: HTTP, port: ${PORT}}`], "namespace: default, labels: {app: edge}")}---
${backendYaml("echo", 9000, "default", "sluice.dev/demo: echo")}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all, namespace: default }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ group: sluice.dev, kind: Backend, name: echo, port: 9000 }] }]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: edge-policy, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: edge } }
  ingress:
    - fromCIDR: [10.77.1.0/24]
      toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
  ingressDeny:
    - fromCIDR: [10.77.2.0/24]
`;

function inNs(ns: string, args: string[], timeoutMs = 15_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", ns, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function adminJson<T>(t: Topology, path: string): T | null {
  const r = inNs(t.serverNs, ["curl", "-s", "-m", "3", `http://127.0.0.1:${ADMIN}${path}`]);
  try {
    return r.status === 0 ? (JSON.parse(r.stdout) as T) : null;
  } catch {
    return null;
  }
}

/** TCP connects from fixed source ports in the client namespace, each given `timeoutMs`. */
function connect(t: Topology, from: string, sports: number[], timeoutMs: number): boolean[] {
  const code = `import net from "node:net";
    const out = [];
    for (const lp of ${JSON.stringify(sports)}) out.push(await new Promise((res) => {
      const s = net.connect({ host: ${JSON.stringify(SERVER_V4)}, port: ${PORT}, localAddress: ${JSON.stringify(from)}, localPort: lp });
      const t = setTimeout(() => { s.destroy(); res(false); }, ${timeoutMs});
      s.on("connect", () => { clearTimeout(t); s.destroy(); res(true); });
      s.on("error", () => { clearTimeout(t); res(false); });
    }));
    console.log(JSON.stringify(out));`;
  const r = inNs(t.clientNs, [process.execPath, "--input-type=module", "-e", code]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as boolean[];
}

test("one stream: kernel new flows and drops from the edge policy and the proxy's HTTP records, through sluice observe", { skip }, async () => {
  const t = await createTopology();
  const dir = mkdtempSync(join(tmpdir(), "sluice-flows-"));
  let gw: ChildProcess | undefined;
  let obs: ChildProcess | undefined;
  let gwErr = "";
  try {
    writeFileSync(join(dir, "config.yaml"), CONFIG);
    gw = spawn("ip", ["netns", "exec", t.serverNs, process.execPath, SLUICE, "run", "--config", dir, "--admin-port", String(ADMIN), "--workers", "1", "--access-log", "off", "--demo-backends", "--interface", t.serverIf], { stdio: ["ignore", "ignore", "pipe"] });
    gw.stderr!.on("data", (d: Buffer) => (gwErr += d.toString()));
    await until("the gateway ready", () => {
      if (gw!.exitCode !== null) throw new Error(`sluice exited: ${gwErr}`);
      return adminJson<{ ready: boolean }>(t, "/ready")?.ready === true;
    });

    obs = spawn("ip", ["netns", "exec", t.serverNs, process.execPath, SLUICE, "observe", "--admin", `http://127.0.0.1:${ADMIN}`, "-o", "json", "--port", String(PORT)], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let buf = "";
    obs.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts.filter((l) => l));
    });
    await until("the observer connected", () => adminJson<{ subscribers: number }>(t, "/flows/status")?.subscribers === 1);

    const http = inNs(t.clientNs, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", GOOD, "--local-port", "45001", "-m", "3", `http://${SERVER_V4}:${PORT}/hello`]);
    assert.equal(http.stdout.trim(), "200", http.stderr);
    assert.deepEqual(connect(t, BAD, [45101, 45102], 300), [false, false], "the bad network is dropped in the kernel");

    const records = (): FlowRecord[] => lines.map((l) => JSON.parse(l) as FlowRecord).filter((r) => r.protocol === "TCP");
    await until("three kernel events and the HTTP record", () => records().length >= 4);
    await sleep(300); // nothing else may arrive

    const got = records();
    const kernelNew = got.filter((r) => r.source === "kernel" && r.type === "new");
    const drops = got.filter((r) => r.source === "kernel" && r.type === "drop");
    const l7 = got.filter((r) => r.source === "l7");
    assert.equal(got.length, 4, JSON.stringify(got, null, 1));
    assert.equal(kernelNew.length, 1);
    assert.deepEqual([kernelNew[0]!.src, kernelNew[0]!.dst, kernelNew[0]!.verdict, kernelNew[0]!.rule], [{ ip: GOOD, port: 45001 }, { ip: SERVER_V4, port: PORT }, "forwarded", "default/edge-policy/spec.ingress[0]"]);
    assert.deepEqual(drops.map((r) => `${r.src.ip}:${r.src.port} ${r.verdict} ${r.rule} x${r.packets}`).sort(), [
      `${BAD}:45101 dropped default/edge-policy/spec.ingressDeny[0] x1`,
      `${BAD}:45102 dropped default/edge-policy/spec.ingressDeny[0] x1`,
    ]);
    assert.equal(l7.length, 1);
    assert.deepEqual([l7[0]!.src, l7[0]!.http?.path, l7[0]!.http?.status, l7[0]!.verdict, l7[0]!.listener], [{ ip: GOOD, port: 45001 }, "/hello", 200, "forwarded", "default/edge/http"]);

    // The recent flows keep the kernel events too (the control process's ring), filtered on the server.
    const recent = inNs(t.serverNs, [process.execPath, SLUICE, "observe", "--admin", `http://127.0.0.1:${ADMIN}`, "--no-follow", "-o", "json", "--verdict", "dropped", "--from", "10.77.2.0/24"]);
    assert.equal(recent.status, 0, recent.stderr);
    const recentDrops = recent.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l) as FlowRecord);
    assert.deepEqual(recentDrops.map((r) => r.src.port).sort(), [45101, 45102]);
  } finally {
    if (obs && obs.exitCode === null) obs.kill("SIGINT");
    if (gw && gw.exitCode === null) {
      const exited = new Promise((r) => gw!.once("exit", r));
      gw.kill("SIGTERM");
      const k = setTimeout(() => gw!.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(k);
    }
    rmSync(dir, { recursive: true, force: true });
    t.destroy();
  }
});
