// The command line: help on every command, usage errors, validate's output and exit codes, status.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayProcess, ROOT, SLUICE, freePort } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY } from "./fixtures.js";

function sluice(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SLUICE, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sluice-cli-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

test("top-level help lists every command", () => {
  for (const flag of ["--help", "-h"]) {
    const r = sluice(flag);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ["run", "validate", "status", "doctor", "version"]) assert.match(r.stdout, new RegExp(`^  ${cmd} `, "m"));
  }
  const none = sluice();
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: sluice <command>/);
});

test("every command has --help and -h listing its options", () => {
  const expected: Record<string, string[]> = {
    run: ["--config", "--workers", "--admin-port", "--admin-address", "--listen-address", "--access-log", "--log-level", "--demo-backends", "--help"],
    validate: ["--output", "--help"],
    status: ["--admin", "--output", "--help"],
    doctor: ["--output", "--help"],
    version: ["--help"],
  };
  for (const [cmd, flags] of Object.entries(expected)) {
    for (const h of ["--help", "-h"]) {
      const r = sluice(cmd, h);
      assert.equal(r.code, 0, `${cmd} ${h}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: sluice ${cmd}`));
      for (const f of flags) assert.ok(r.stdout.includes(f), `${cmd} --help does not mention ${f}`);
    }
  }
});

test("the options listed in run --help are the ones accepted", () => {
  // Every documented flag parses: a bad value reaches its own check instead of "unknown option".
  const r = sluice("run", "--config", "/nonexistent-sluice-dir", "--workers", "1", "--admin-port", "0", "--admin-address", "127.0.0.1",
    "--listen-address", "127.0.0.1", "--access-log", "off", "--log-level", "warn", "--demo-backends", "--control-nice", "0", "--no-realtime-changes");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not a folder/);
});

test("unknown flags and commands are usage errors (exit 2) with the usage", () => {
  const cases: [string[], RegExp, RegExp][] = [
    [["run", "--bogus"], /unknown option '--bogus'/i, /Usage: sluice run/],
    [["validate", "--nope", "x"], /unknown option '--nope'/i, /Usage: sluice validate/],
    [["status", "--wat"], /unknown option '--wat'/i, /Usage: sluice status/],
    [["frobnicate"], /unknown command "frobnicate"/, /Usage: sluice <command>/],
    [["run", "--workers", "zero", "--config", "."], /--workers must be a whole number/, /Usage: sluice run/],
    [["run"], /--config DIR is required/, /Usage: sluice run/],
    [["validate"], /missing the folder/, /Usage: sluice validate/],
    [["validate", "-o", "xml", "."], /--output must be text or json/, /Usage: sluice validate/],
  ];
  for (const [args, msg, usage] of cases) {
    const r = sluice(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(" "));
    assert.match(r.stderr, usage, args.join(" "));
  }
});

test("version prints the package version", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  for (const args of [["version"], ["--version"]]) {
    const r = sluice(...args);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^sluice ${pkg.version.replace(/\./g, "\\.")} `));
  }
});

test("validate: the quickstart folder is valid", () => {
  const r = sluice("validate", join(ROOT, "examples/quickstart"));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: .* 0 error\(s\)/m);
});

const BAD_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: broken
  namespace: default
spec:
  parentRefs:
    - name: gw
  rules:
    - matches:
        - path:
            type: Prefix
            value: /x
`;

// Line 5 repeats a key: malformed YAML.
const MALFORMED = `apiVersion: v1
kind: Service
metadata:
  name: x
  name: y
spec: {}
`;

test("validate: every error with its file:line, exit 1", () => {
  const dir = tempFolder({ "gw.yaml": CLASS_AND_GATEWAY(8080), "routes.yaml": BAD_ROUTE, "broken.yaml": MALFORMED });
  try {
    const r = sluice("validate", dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.split("\n");
    const enumLine = lines.find((l) => l.includes("routes.yaml:12:"));
    assert.ok(enumLine, `no error at routes.yaml:12 in:\n${r.stdout}`);
    assert.match(enumLine, /^error: /);
    assert.match(enumLine, /HTTPRoute default\/broken/);
    assert.match(enumLine, /spec\.rules\[0\]\.matches\[0\]\.path\.type/);
    assert.match(enumLine, /expected: /);
    const yamlLine = lines.find((l) => l.includes("broken.yaml:5:"));
    assert.ok(yamlLine, `no error at broken.yaml:5 in:\n${r.stdout}`);
    assert.match(yamlLine, /^error: /);
    assert.match(r.stdout, /^invalid: .* [1-9]\d* error\(s\)/m);

    const j = sluice("validate", "-o", "json", dir);
    assert.equal(j.code, 1);
    const body = JSON.parse(j.stdout) as { valid: boolean; errors: { text: string; severity: string; source?: { file: string; line: number }; field?: string }[] };
    assert.equal(body.valid, false);
    const e = body.errors.find((x) => x.source?.file.endsWith("routes.yaml") && x.source.line === 12);
    assert.ok(e, j.stdout);
    assert.equal(e.severity, "error");
    assert.equal(e.field, "spec.rules[0].matches[0].path.type");
    assert.ok(body.errors.some((x) => x.source?.file.endsWith("broken.yaml") && x.source.line === 5), j.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("validate: a missing folder is exit 1", () => {
  const r = sluice("validate", "/nonexistent-sluice-dir");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not a folder/);
});

test("status: prints each resource with its conditions", async () => {
  const port = await freePort();
  const gw = await GatewayProcess.start({ files: { "gw.yaml": CLASS_AND_GATEWAY(port) } });
  try {
    const admin = `http://127.0.0.1:${gw.adminPort}`;
    const r = spawnSync(process.execPath, [SLUICE, "status", "--admin", admin], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^KIND\s+NAMESPACE\s+NAME\s+SCOPE\s+TYPE\s+STATUS\s+REASON/m);
    assert.match(r.stdout, /^GatewayClass\s+sluice\s+-\s+Accepted\s+True\s+Accepted/m);
    assert.match(r.stdout, /^Gateway\s+default\s+gw\s+-\s+Programmed\s+True/m);
    assert.match(r.stdout, /^Gateway\s+default\s+gw\s+listener http\s+Accepted\s+True/m);

    const y = spawnSync(process.execPath, [SLUICE, "status", "--admin", admin, "-o", "yaml"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(y.status, 0, y.stderr);
    assert.match(y.stdout, /^apiVersion: v1\nkind: List\n/);
    const j = spawnSync(process.execPath, [SLUICE, "status", "--admin", admin, "-o", "json"], { encoding: "utf8", timeout: 20_000 });
    assert.equal((JSON.parse(j.stdout) as { kind: string }).kind, "List");

    const down = spawnSync(process.execPath, [SLUICE, "status", "--admin", `http://127.0.0.1:${await freePort()}`], { encoding: "utf8", timeout: 20_000 });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot query/);
  } finally {
    await gw.stop();
  }
});

test("doctor: reports the kernel and whether eBPF is usable, as text and JSON", () => {
  const text = sluice("doctor");
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^kernel\s+\S+/m);
  assert.match(text.stdout, /eBPF usable: (yes|no)/);
  assert.match(text.stdout, /^io_uring\s+(usable|refused: .+) \(/m);
  const json = sluice("doctor", "-o", "json");
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { kernel: string; ioUring: { usable: boolean } };
  assert.equal(typeof report.kernel, "string");
  assert.equal(typeof report.ioUring.usable, "boolean");
  assert.equal(sluice("doctor", "-o", "xml").code, 2);
});

/** node's command line of a live process. */
function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

test("run: the control process gets node's --no-memory-reducer and --no-parallel-scavenge in the same process; its workers --no-memory-reducer only when node was given it", async () => {
  const files = { "gw.yaml": CLASS_AND_GATEWAY(await freePort()) };
  // Started plainly (as `node bin/sluice run`), with the flag already given, and with the opt-out.
  const cases: { nodeArgs: string[]; env: Record<string, string>; flagged: boolean }[] = [
    { nodeArgs: [], env: {}, flagged: true },
    { nodeArgs: ["--no-memory-reducer"], env: {}, flagged: true },
    { nodeArgs: [], env: { SLUICE_NODE_FLAGS: "off" }, flagged: false },
  ];
  for (const c of cases) {
    const gw = await GatewayProcess.start({ files, nodeArgs: c.nodeArgs, env: c.env });
    try {
      const pid = gw.proc.pid!;
      const argv = cmdline(pid);
      const what = `${JSON.stringify(c)}: ${argv.join(" ")}`;
      for (const flag of ["--no-memory-reducer", "--no-parallel-scavenge"]) assert.equal(argv.filter((a) => a === flag).length, c.flagged ? 1 : 0, what);
      // Its own arguments, unchanged, after node's.
      assert.deepEqual(argv.slice(argv.indexOf(SLUICE), argv.indexOf(SLUICE) + 2), [SLUICE, "run"], what);
      // Still the process that was started (its stdio too: the log arrives), and it serves.
      assert.match(gw.stdout + gw.stderr, /"msg":"sluice started"/, what);
      const ready = (await gw.readyState())!;
      assert.equal(ready.ready, true);
      assert.equal(ready.workers?.length, 1);
      for (const w of ready.workers ?? []) {
        const wpid = w.pid!;
        // Flags given to node itself still reach the workers, as before.
        assert.equal(cmdline(wpid).includes("--no-memory-reducer"), c.nodeArgs.length > 0, `worker ${wpid}: ${cmdline(wpid).join(" ")}`);
      }
    } finally {
      await gw.stop();
    }
  }
});
