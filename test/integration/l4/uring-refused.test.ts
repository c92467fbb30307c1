// Where io_uring is refused (container runtimes' default seccomp profiles answer io_uring_setup with
// EPERM; kernel.io_uring_disabled does the same machine-wide), the default relay falls back to the
// splice(2) thread and says so once. Reproduced with a seccomp filter the gateway's node process
// installs before it runs (it is inherited across the gateway's re-exec and by its workers), so
// nothing outside the test's own processes changes.
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { backendRef, backendYaml, gatewayYaml, l4RouteYaml } from "../../helpers/gateway-yaml.js";
import { tcpExchange } from "../../helpers/tcp-echo.js";

const skip = process.platform !== "linux" || process.arch !== "x64" ? "the filter below is for x86-64 Linux" : undefined;

/** A module that, imported first, makes io_uring_setup (syscall 425) fail with EPERM in this process and its children. */
function seccompPreload(dir: string): string {
  const koffi = createRequire(import.meta.url).resolve("koffi");
  const file = join(dir, "no-io-uring.cjs");
  writeFileSync(
    file,
    `const koffi = require(${JSON.stringify(koffi)});
const libc = koffi.load("libc.so.6");
const prctl = libc.func("int prctl(int option, unsigned long a, void *b, unsigned long c, unsigned long d)");
// classic BPF: A = syscall nr; if A == 425 return ERRNO(EPERM) else ALLOW
const insns = [[0x20, 0, 0, 0], [0x15, 0, 1, 425], [0x06, 0, 0, 0x00050001], [0x06, 0, 0, 0x7fff0000]];
const filter = Buffer.alloc(8 * insns.length);
insns.forEach(([code, jt, jf, k], i) => { filter.writeUInt16LE(code, i * 8); filter[i * 8 + 2] = jt; filter[i * 8 + 3] = jf; filter.writeUInt32LE(k, i * 8 + 4); });
const prog = Buffer.alloc(16);
prog.writeUInt16LE(insns.length, 0);
prog.writeBigUInt64LE(BigInt(koffi.address(filter)), 8);
if (prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1, null, 0, 0) !== 0 || prctl(22 /* PR_SET_SECCOMP */, 2 /* FILTER */, prog, 0, 0) !== 0) throw new Error("seccomp filter refused");
`,
  );
  return file;
}

test("io_uring refused by seccomp: the gateway says so once and relays TCPRoutes through the splice(2) thread", { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-test-seccomp-"));
  const echo = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const listenPort = await freePort();
  const yaml = `${gatewayYaml("l4", [`{name: tcp, port: ${listenPort}, protocol: TCP}`])}---
${backendYaml("echo", echoPort)}${l4RouteYaml("TCPRoute", "plain", "l4", "tcp", backendRef("echo"))}`;
  const gw = await GatewayProcess.start({ files: { "l4.yaml": yaml }, workers: 1, nodeArgs: ["--require", seccompPreload(dir)] });
  try {
    for (let i = 0; i < 2; i++) {
      const payload = randomBytes(256 * 1024);
      const got = await tcpExchange(listenPort, payload);
      assert.ok(got.equals(payload), `echoed ${got.length} of ${payload.length} bytes intact`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    assert.match(metrics, /^sluice_l4_splice_connections_total\{path="thread"\} 2$/m);
    assert.match(metrics, /^sluice_l4_splice_connections_total\{path="uring"\} 0$/m);
    const said = gw.stderr.split("\n").filter((l) => l.includes("no io_uring relay thread; L4 routes relay through the splice(2) thread"));
    assert.equal(said.length, 1, gw.stderr);
    assert.match(said[0]!, /errno 1\b/);
  } finally {
    await gw.stop();
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("io_uring refused by seccomp: sluice doctor says so and names the fallback", { skip, timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-test-seccomp-"));
  try {
    const bin = join(import.meta.dirname, "../../../bin/sluice");
    const refused = spawnSync(process.execPath, ["--require", seccompPreload(dir), bin, "doctor"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(refused.status, 0, refused.stderr);
    assert.match(refused.stdout, /^io_uring {9}refused: io_uring_setup failed: errno 1 \(L4 routes relay through the splice\(2\) thread\)$/m);
    const plain = spawnSync(process.execPath, [bin, "doctor"], { encoding: "utf8", timeout: 20_000 });
    // Without the filter: usable, unless this machine itself refuses io_uring.
    assert.match(plain.stdout, /^io_uring {9}(usable \(the L4 relay thread, --l4-relay uring, the default\)|refused: .+)$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
