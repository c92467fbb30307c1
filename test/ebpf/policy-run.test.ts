// Network policy end to end: a real `sluice run --interface <veth>` started inside the server
// namespace (ip netns exec), configured with a Gateway + HTTPRoute + CiliumNetworkPolicy, and HTTP
// clients on chosen source addresses in the client namespace. Each test builds and deletes its own
// namespaces (test/ebpf/netns.ts). Ports are fixed: they live in namespaces only this test uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, renameSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLUICE } from "../helpers/gateway.js";
import { gatewayYaml } from "../helpers/gateway-yaml.js";
import { CLIENT_V4, SERVER_V4, createTopology, kernelTestSkipReason, mountTestBpffs, sleep, type Topology } from "./netns.js";

const skip = kernelTestSkipReason() ?? (spawnSync("curl", ["--version"]).status === 0 ? undefined : "curl is missing");
const [GOOD, EXCEPTED, BAD] = CLIENT_V4; // 10.77.1.1, 10.77.1.50, 10.77.2.1
const PORT = 8080;
const ADMIN = 9901;

const BASE = `${gatewayYaml("edge", [`{name: http, protocol: HTTP, port: ${PORT}}`], "namespace: default, labels: {app: edge}")}---
apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata:
  name: echo
  namespace: default
  labels: { sluice.dev/demo: echo }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: 9000 } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all, namespace: default }
spec:
  parentRefs: [{ name: edge }]
  rules:
    - backendRefs: [{ group: sluice.dev, kind: Backend, name: echo, port: 9000 }]
`;

/** Office network allowed (minus one host), a bad network denied by rule, everything else default deny. */
const POLICY_V1 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: edge-policy, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: edge } }
  ingress:
    - fromCIDRSet:
        - cidr: 10.77.1.0/24
          except: [10.77.1.50/32]
      toPorts:
        - ports: [{ port: "8000", endPort: 8100, protocol: TCP }]
  ingressDeny:
    - fromCIDR: [10.77.2.0/24]
`;

/** The bad network is allowed now. */
const POLICY_V2 = POLICY_V1.replace("  ingressDeny:\n    - fromCIDR: [10.77.2.0/24]\n", "").replace(
  "        - cidr: 10.77.1.0/24\n          except: [10.77.1.50/32]\n",
  "        - cidr: 10.77.1.0/24\n          except: [10.77.1.50/32]\n        - cidr: 10.77.2.0/24\n",
);

const RULE_DENY = "default/edge-policy/spec.ingressDeny[0]";
const RULE_ALLOW = "default/edge-policy/spec.ingress[0]";

interface Gateway {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** One HTTP GET from a client address. code: curl's exit code (0 answered, 28 no answer in time, 7 refused, 52/56 reset). */
async function get(t: Topology, from: string): Promise<{ status: string; code: number | null; ms: number }> {
  const r = await run("ip", ["netns", "exec", t.clientNs, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", from, "--connect-timeout", "1", "-m", "3", `http://${SERVER_V4}:${PORT}/`]);
  return { status: r.stdout.trim(), code: r.code, ms: r.ms };
}

async function admin(t: Topology, path: string): Promise<string | null> {
  const r = await run("ip", ["netns", "exec", t.serverNs, "curl", "-s", "-m", "3", `http://127.0.0.1:${ADMIN}${path}`]);
  return r.code === 0 ? r.stdout : null;
}

async function readyVersion(t: Topology): Promise<number> {
  const text = await admin(t, "/ready");
  if (!text) return 0;
  try {
    const r = JSON.parse(text) as { ready: boolean; version: number };
    return r.ready ? r.version : 0;
  } catch {
    return 0;
  }
}

async function waitReady(t: Topology, gw: Gateway, above = 0): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (gw.proc.exitCode !== null) throw new Error(`sluice exited (${gw.proc.exitCode}):\n${gw.stderr()}`);
    const v = await readyVersion(t);
    if (v > above) return v;
    await sleep(100);
  }
  throw new Error(`sluice not ready (version > ${above}) in time:\n${gw.stderr()}`);
}

function startGateway(t: Topology, dir: string, extra: string[]): Gateway {
  const args = ["netns", "exec", t.serverNs, process.execPath, SLUICE, "run", "--config", dir, "--admin-port", String(ADMIN), "--workers", "1", "--access-log", "off", "--demo-backends", ...extra];
  const proc = spawn("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, stderr: () => stderr, exited };
}

async function stopGateway(gw: Gateway, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (gw.proc.exitCode !== null) return gw.proc.exitCode;
  gw.proc.kill(signal);
  const t = setTimeout(() => gw.proc.kill("SIGKILL"), 15_000);
  const code = await gw.exited;
  clearTimeout(t);
  return code;
}

/** Value of one sample in Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return 0;
}

function xdpAttached(t: Topology): boolean {
  const r = spawnSync("ip", ["-n", t.serverNs, "-d", "link", "show", "dev", t.serverIf], { encoding: "utf8" });
  return /\bxdp\b|prog\/xdp/.test(r.stdout);
}

function bpftoolNet(t: Topology): string {
  const r = spawnSync("ip", ["netns", "exec", t.serverNs, "bpftool", "net", "show", "dev", t.serverIf], { encoding: "utf8" });
  return r.stdout + r.stderr;
}

interface Env {
  t: Topology;
  dir: string;
  bpffs?: string;
}

async function withEnv(fn: (e: Env) => Promise<void>, opts: { bpffs?: boolean } = {}): Promise<void> {
  const t = await createTopology();
  const dir = mkdtempSync(join(tmpdir(), "sluice-netpol-"));
  let bpffs: { path: string; dispose(): void } | undefined;
  try {
    // Mounted before `ip netns exec`, so the gateway sees the same instance there: pins outlive the
    // gateway process (a private mount would not).
    if (opts.bpffs) bpffs = mountTestBpffs();
    writeAtomic(join(dir, "config.yaml"), BASE);
    writeAtomic(join(dir, "policy.yaml"), POLICY_V1);
    await fn({ t, dir, ...(bpffs ? { bpffs: bpffs.path } : {}) });
  } finally {
    t.destroy();
    bpffs?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("kernel: denied sources never get an answer and their counters move; allowed ones get 200; editing the policy flips the next connection", { skip }, async () => {
  await withEnv(async ({ t, dir }) => {
    // No --bpffs: inside `ip netns exec` /sys/fs/bpf is not mounted, so the gateway mounts it.
    const gw = startGateway(t, dir, ["--interface", t.serverIf]);
    try {
      const v1 = await waitReady(t, gw);
      assert.match(gw.stderr(), /mounted bpffs at \/sys\/fs\/bpf/);
      assert.match(gw.stderr(), /enforced in the kernel on/);
      assert.ok(xdpAttached(t), "the policy program is attached with XDP");

      const ok = await get(t, GOOD);
      assert.equal(ok.status, "200", `allowed source: ${JSON.stringify(ok)}`);
      for (const from of [EXCEPTED, BAD]) {
        const r = await get(t, from);
        assert.equal(r.status, "000");
        assert.equal(r.code, 28, `${from}: no answer at all (dropped before the stack), got curl exit ${r.code}`);
      }
      const metrics = (await admin(t, "/metrics")) ?? "";
      const labels = { interface: t.serverIf };
      assert.ok(sample(metrics, "sluice_policy_packets_total", { ...labels, rule: RULE_DENY, verdict: "deny" }) >= 1, "the deny rule counted the bad network's SYNs");
      assert.ok(sample(metrics, "sluice_policy_packets_total", { ...labels, rule: "default", verdict: "deny" }) >= 1, "the excepted host fell to the default deny");
      assert.ok(sample(metrics, "sluice_policy_packets_total", { ...labels, rule: RULE_ALLOW, verdict: "allow" }) >= 3, "the allow rule counted the accepted connection");
      assert.ok(sample(metrics, "sluice_policy_bytes_total", { ...labels, rule: RULE_ALLOW, verdict: "allow" }) > 0);
      assert.equal(sample(metrics, "sluice_policy_datapath", { datapath: "kernel" }), 1);

      writeAtomic(join(dir, "policy.yaml"), POLICY_V2);
      await waitReady(t, gw, v1);
      const flipped = await get(t, BAD);
      assert.equal(flipped.status, "200", `the next connection after the edit is allowed: ${JSON.stringify(flipped)}`);
      assert.equal((await get(t, EXCEPTED)).code, 28, "the except still holds");

      // A syntax error in the policy keeps the last good one in force.
      writeAtomic(join(dir, "policy.yaml"), POLICY_V2.replace("10.77.2.0/24", "10.77.2.0/40"));
      await sleep(500);
      assert.equal((await get(t, BAD)).status, "200");
    } finally {
      assert.equal(await stopGateway(gw), 0, gw.stderr());
    }
    assert.equal(xdpAttached(t), false, "a clean stop leaves nothing attached");
    assert.doesNotMatch(bpftoolNet(t), /sluice_policy/, "bpftool sees no program of ours on the interface");
  });
});

test("restart: the pinned policy keeps denying while no gateway runs; the next run takes it over; a clean stop detaches and unpins", { skip }, async () => {
  await withEnv(
    async ({ t, dir, bpffs }) => {
      const args = ["--interface", t.serverIf, "--bpffs", bpffs!];
      const first = startGateway(t, dir, args);
      let linkId: number | undefined;
      try {
        await waitReady(t, first);
        assert.equal((await get(t, GOOD)).status, "200");
        const doc = await run("ip", ["netns", "exec", t.serverNs, process.execPath, SLUICE, "doctor", "--bpffs", bpffs!, "-o", "json"]);
        const report = JSON.parse(doc.stdout) as { pinned?: { interfaces: Array<{ ifname: string; link?: { mode: string; linkId: number }; owner?: { pid: number }; maps: Record<string, { entries: number }>; counters?: { rules: Record<string, { packets: number }> } }> } };
        const pinned = report.pinned?.interfaces.find((i) => i.ifname === t.serverIf);
        assert.ok(pinned?.link, `doctor shows the pinned link: ${doc.stdout}`);
        assert.equal(pinned.link.mode, "xdp");
        assert.ok((pinned.maps.src4?.entries ?? 0) >= 2, "doctor shows the map sizes");
        assert.ok((pinned.counters?.rules[RULE_ALLOW]?.packets ?? 0) >= 1, "doctor shows per-rule counters by name");
        linkId = pinned.link.linkId;
      } finally {
        // SIGUSR2: stop for a restart.
        assert.equal(await stopGateway(first, "SIGUSR2"), 0, first.stderr());
      }
      assert.match(first.stderr(), /left pinned in the kernel for the next run/);
      // The restart window: no gateway process, the policy still in the kernel.
      assert.ok(xdpAttached(t), "the program stays attached while no gateway runs");
      const denied = await get(t, EXCEPTED);
      assert.equal(denied.code, 28, `a denied source still gets no answer (not even a refusal): curl exit ${denied.code}`);
      assert.equal((await get(t, GOOD)).code, 7, "an allowed source reaches the host, which refuses: nothing listens");

      writeAtomic(join(dir, "policy.yaml"), POLICY_V2); // changed while down: applied as a diff at start
      const second = startGateway(t, dir, args);
      try {
        await waitReady(t, second);
        assert.match(second.stderr(), /taking over the network policy a previous run left pinned/);
        assert.match(second.stderr(), /took over the pinned policy link/);
        assert.equal((await get(t, BAD)).status, "200", "the edited policy is in force");
        assert.equal((await get(t, EXCEPTED)).code, 28);
        const doc = await run("ip", ["netns", "exec", t.serverNs, process.execPath, SLUICE, "doctor", "--bpffs", bpffs!, "-o", "json"]);
        const pinned = (JSON.parse(doc.stdout) as { pinned: { interfaces: Array<{ ifname: string; link?: { linkId: number }; owner?: { pid: number } }> } }).pinned.interfaces.find((i) => i.ifname === t.serverIf);
        assert.equal(pinned?.link?.linkId, linkId, "the same link: its program was replaced in place, never detached");
        assert.equal(pinned?.owner?.pid, second.proc.pid);
      } finally {
        assert.equal(await stopGateway(second), 0, second.stderr());
      }
      assert.equal(xdpAttached(t), false, "a clean stop leaves nothing attached");
      assert.equal(existsSync(join(bpffs!, "sluice", t.serverIf)), false, "and removes the pins");
      assert.equal((await get(t, EXCEPTED)).code, 7, "the former denied source now reaches the host");
    },
    { bpffs: true },
  );
});

test("a crashed run's pins for an interface this run does not use are removed at start", { skip }, async () => {
  await withEnv(
    async ({ t, dir, bpffs }) => {
      const crashed = startGateway(t, dir, ["--interface", t.serverIf, "--bpffs", bpffs!]);
      await waitReady(t, crashed);
      crashed.proc.kill("SIGKILL");
      await crashed.exited;
      assert.ok(xdpAttached(t), "a crash leaves the pinned policy in force");
      const next = startGateway(t, dir, ["--no-ebpf", "--bpffs", bpffs!]);
      try {
        await waitReady(t, next);
        assert.match(next.stderr(), /removed a stale network policy attachment/);
        assert.equal(xdpAttached(t), false);
        assert.equal(existsSync(join(bpffs!, "sluice", t.serverIf)), false);
      } finally {
        await stopGateway(next);
      }
    },
    { bpffs: true },
  );
});

test("--no-ebpf: the workers enforce the same verdicts at accept time (connection reset, nothing attached)", { skip }, async () => {
  await withEnv(async ({ t, dir }) => {
    const gw = startGateway(t, dir, ["--interface", t.serverIf, "--no-ebpf"]);
    try {
      const v1 = await waitReady(t, gw);
      assert.match(gw.stderr(), /eBPF is disabled by --no-ebpf: network policy is enforced in userspace/);
      assert.equal(xdpAttached(t), false);
      assert.equal((await get(t, GOOD)).status, "200");
      for (const from of [EXCEPTED, BAD]) {
        const r = await get(t, from);
        assert.equal(r.status, "000", `${from} gets no HTTP answer`);
        assert.notEqual(r.code, 28, `${from}: closed at accept, not left hanging (curl exit ${r.code})`);
        assert.ok(r.ms < 1000, `${from}: closed promptly (${r.ms} ms)`);
      }
      const metrics = (await admin(t, "/metrics")) ?? "";
      assert.ok(sample(metrics, "sluice_policy_userspace_decisions_total", { rule: RULE_DENY, verdict: "deny", protocol: "TCP" }) >= 1);
      assert.ok(sample(metrics, "sluice_policy_userspace_decisions_total", { rule: "default-deny", verdict: "deny", protocol: "TCP" }) >= 1);
      assert.ok(sample(metrics, "sluice_policy_userspace_decisions_total", { rule: RULE_ALLOW, verdict: "allow", protocol: "TCP" }) >= 1);
      assert.equal(sample(metrics, "sluice_policy_datapath", { datapath: "userspace" }), 1);

      writeAtomic(join(dir, "policy.yaml"), POLICY_V2);
      await waitReady(t, gw, v1);
      assert.equal((await get(t, BAD)).status, "200", "the edit flips the verdict in userspace too");
      assert.notEqual((await get(t, EXCEPTED)).status, "200");
    } finally {
      assert.equal(await stopGateway(gw), 0, gw.stderr());
    }
  });
});
