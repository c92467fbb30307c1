// Capability detection, doctor output, and libbpf's messages surfacing in errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatDoctor, runDoctor } from "../../src/ebpf/doctor.js";
import { EdgePolicy } from "../../src/ebpf/policy-loader.js";
import { BLOCKED_MS, createTopology, kernelTestSkipReason, SERVER_V4, CLIENT_V4 } from "./netns.js";

const skip = kernelTestSkipReason();
const root = fileURLToPath(new URL("../../", import.meta.url));

test("doctor as root: kernel, privileges, mounts, BTF, libbpf, a trivial program and the policy program load", { skip }, () => {
  const r = runDoctor();
  assert.equal(r.kernel, release());
  assert.equal(r.privileges.uid, 0);
  assert.ok(r.privileges.capabilities.includes("CAP_BPF") || r.privileges.capabilities.includes("CAP_SYS_ADMIN"));
  // The host's bpffs mounts, whatever they are (a machine without systemd may have none; the gateway
  // mounts one when it pins), as util-linux lists them.
  const bpfMounts = spawnSync("findmnt", ["-t", "bpf", "-n", "--raw", "-o", "TARGET"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  assert.deepEqual([...r.mounts.bpffs].sort(), bpfMounts.sort(), "bpffs mounts as findmnt lists them");
  assert.match(r.libbpf.version ?? "", /^1\.\d+$/);
  assert.equal(r.trivialProgram.loads, true);
  assert.equal(r.policyProgram.loads, true, r.policyProgram.error);
  assert.equal(r.ok, true, r.summary);
  const text = formatDoctor(r);
  assert.match(text, /^kernel\s+\S+/m);
  assert.match(text, /trivial program\s+loads/);
  assert.match(text, bpfMounts.length > 0 ? new RegExp(`^bpffs\\s+.*${bpfMounts[0]}`, "m") : /^bpffs\s+not mounted$/m);
  assert.match(text, /eBPF usable: yes/);
  assert.doesNotThrow(() => JSON.stringify(r), "the structured report serialises (no bigint)");
});

test("doctor without capabilities says why in one sentence and reports the EPERM", { skip }, (t) => {
  // Root with an empty bounding set: same files readable, no capabilities after exec.
  const probe = spawnSync("setpriv", ["--version"]);
  if (probe.status !== 0) return t.skip("setpriv (util-linux) is missing");
  const script = `import("${join(root, "src/ebpf/doctor.ts")}").then((m) => { const r = m.runDoctor(); process.stdout.write(JSON.stringify({ ok: r.ok, summary: r.summary, error: r.trivialProgram.error })); })`;
  const r = spawnSync("setpriv", ["--bounding-set=-all", "--inh-caps=-all", process.execPath, "--import", "tsx", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; summary: string; error: string };
  assert.equal(out.ok, false);
  assert.match(out.summary, /^no privilege to load eBPF programs \(needs root or CAP_BPF \+ CAP_NET_ADMIN\); running the userspace path$/);
  assert.match(out.error, /EPERM/);
});

test("a verifier rejection surfaces the verifier's reason, not just EACCES", { skip }, (t) => {
  if (spawnSync("clang", ["--version"]).status !== 0) return t.skip("clang is missing");
  const dir = mkdtempSync(join(tmpdir(), "sluice-bpf-"));
  try {
    const src = join(dir, "bad.bpf.c");
    writeFileSync(
      src,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int bad(struct xdp_md *ctx) { unsigned char *d = (void *)(long)ctx->data; return d[20] == 1 ? XDP_DROP : XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
    const c = spawnSync("clang", ["-O2", "-g", "-target", "bpf", `-I/usr/include/${arch}-linux-gnu`, "-c", src, "-o", join(dir, "bad.bpf.o")], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
    assert.throws(() => EdgePolicy.load(join(dir, "bad.bpf.o")), /EACCES.*invalid access to packet/s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("doctor with a live policy: attachment, map sizes and counters", { skip }, async () => {
  const topo = await createTopology();
  let policy: EdgePolicy | undefined;
  try {
    policy = EdgePolicy.load();
    policy.attach(topo.serverIf, { netns: topo.serverNs });
    policy.apply({ defaultVerdict: "deny", rules: [{ id: "only", verdict: "allow", from: [{ cidr: "10.77.1.0/24" }, { cidr: "fd77::/64" }], ports: [{ protocol: "TCP", port: 7000, endPort: 7001 }] }] });
    await topo.server.call({ op: "listen", proto: "tcp", host: SERVER_V4, port: 7000 });
    assert.equal(await topo.tcp(CLIENT_V4[0], SERVER_V4, 7000), true);
    assert.equal(await topo.tcp(CLIENT_V4[2], SERVER_V4, 7000, BLOCKED_MS), false);
    const r = runDoctor({ policy, skipPolicyLoad: true });
    assert.deepEqual(r.edgePolicy?.attachments, [{ ifindex: r.edgePolicy?.attachments[0].ifindex, ifname: topo.serverIf, netns: topo.serverNs, mode: "xdp" }]);
    // 10.77.1.0/24 and fd77::/64 map to the same class: one class-level entry + one 7000-7001 block.
    assert.deepEqual(r.edgePolicy?.entries, { src4: 1, src6: 1, ports: 2 });
    assert.ok((r.edgePolicy?.counters.rules.only.packets ?? 0) >= 2);
    assert.ok((r.edgePolicy?.counters.defaultDrop.packets ?? 0) >= 1);
    assert.match(formatDoctor(r), new RegExp(`attached\\s+xdp on ${topo.serverIf} in netns ${topo.serverNs}`));
  } finally {
    policy?.close();
    topo.destroy();
  }
});
