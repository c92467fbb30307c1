// Each class of bad input against a running gateway: the error names file:line, kind
// namespace/name, field, what is wrong and what is expected, and the gateway keeps serving.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE, get, json, until, type ConfigDump } from "./fixtures.js";

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;

before(async () => {
  echo = await startEchoServer({ pod: "echo-a" });
  port = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "b.yaml": BACKEND("echo-a", echo.port),
      "routes.yaml": ROUTE({ name: "good", path: "/", backends: [{ name: "echo-a", port: echo.port }] }),
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

async function dump(): Promise<ConfigDump> {
  return (await json<ConfigDump>(gw.admin("/config_dump"))).body;
}

/** Writes `file`, waits for an error mentioning it, checks the gateway still serves, removes it. */
async function expectRejected(file: string, content: string, pattern: RegExp): Promise<void> {
  const before = await dump();
  gw.write(file, content);
  const d = await until(`an error for ${file}`, 10_000, async () => {
    const x = await dump();
    return x.diagnostics.errors.some((e) => e.source?.file.endsWith(file)) ? x : null;
  });
  const texts = d.diagnostics.errors.map((e) => e.text);
  assert.ok(texts.some((t) => pattern.test(t)), `no error matching ${pattern} in:\n${texts.join("\n")}`);
  // The folder is rejected as a whole: the last good snapshot keeps serving.
  assert.equal(d.version, before.version);
  assert.equal(d.hash, before.hash);
  for (let i = 0; i < 3; i++) assert.equal((await get(port, `/still/${i}`)).pod, "echo-a");
  assert.equal((await fetch(gw.admin("/ready"))).status, 200);
  gw.write(file, null);
  await until(`the error for ${file} to clear`, 10_000, async () => ((await dump()).diagnostics.errors.length === 0 ? true : null));
}

test("malformed YAML: file:line and the parser's complaint", async () => {
  await expectRejected("broken.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [a, b\n", /^error: .*broken\.yaml:\d+:\d+.*YAML/);
});

test("unknown kind: file:line, the kind, and the kinds we know", async () => {
  await expectRejected(
    "unknown.yaml",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoutez\nmetadata:\n  name: x\n  namespace: default\nspec: {}\n",
    /unknown\.yaml:2:\d+ HTTPRoutez default\/x: kind: unknown kind "HTTPRoutez".*\(expected: did you mean "HTTPRoute"\?/,
  );
});

test("invalid field: file:line of the field, its path, the bad value and the range", async () => {
  const bad = ROUTE({ name: "bad-port", path: "/bad", backends: [{ name: "echo-a", port: 70000 }] });
  const line = bad.split("\n").findIndex((l) => l.includes("port: 70000")) + 1;
  await expectRejected("bad-port.yaml", bad, new RegExp(`bad-port\\.yaml:${line}:\\d+ HTTPRoute default/bad-port: spec\\.rules\\[0\\]\\.backendRefs\\[0\\]\\.port: .*70000.*\\(expected: .*65535`));
});

test("dangling reference: applied with the route's share answering 500, reported with file:line", async () => {
  const before = await dump();
  const content = ROUTE({ name: "dangling", path: "/dangling", backends: [{ name: "no-such-backend", port: 1 }] });
  gw.write("dangling.yaml", content);
  const d = await until("the dangling route's diagnostic", 10_000, async () => {
    const x = await dump();
    return x.version > before.version ? x : null;
  });
  const all = [...d.diagnostics.errors, ...d.diagnostics.warnings].map((e) => e.text);
  const backendLine = content.split("\n").findIndex((l) => l.includes("- group: sluice.dev")) + 1;
  assert.ok(
    all.some((t) => new RegExp(`dangling\\.yaml:${backendLine}:\\d+ HTTPRoute default/dangling: spec\\.rules\\[0\\]\\.backendRefs\\[0\\]: .*no-such-backend.*not found`).test(t)),
    all.join("\n"),
  );
  // The spec: an unresolvable backendRef gets 500 for its share; everything else keeps working.
  await gw.waitReady(d.version);
  assert.equal((await get(port, "/dangling/x")).status, 500);
  assert.equal((await get(port, "/other")).pod, "echo-a");
  const status = (await json<{ items: { kind: string; metadata: { name: string }; status?: { parents?: { conditions: { type: string; status: string; reason: string }[] }[] } }[] }>(gw.admin("/status"))).body;
  const route = status.items.find((i) => i.kind === "HTTPRoute" && i.metadata.name === "dangling");
  const resolved = route?.status?.parents?.[0]?.conditions.find((c) => c.type === "ResolvedRefs");
  assert.deepEqual([resolved?.status, resolved?.reason], ["False", "BackendNotFound"]);
  gw.write("dangling.yaml", null);
  await until("the dangling route to go", 10_000, async () => ((await dump()).diagnostics.errors.length === 0 ? true : null));
});

test("conflicting listeners: the newer Gateway's listener is conflicted, the older keeps serving", async () => {
  const before = await dump();
  const second = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw2
  namespace: default
spec:
  gatewayClassName: sluice
  listeners:
    - name: https
      protocol: HTTPS
      port: ${port}
      tls:
        certificateRefs:
          - name: missing-cert
`;
  gw.write("gw2.yaml", second);
  const texts = (x: ConfigDump): string[] => [...x.diagnostics.errors, ...x.diagnostics.warnings].map((e) => e.text);
  const d = await until("gw2's conflict reported", 10_000, async () => {
    const x = await dump();
    return texts(x).some((t) => t.includes("gw2.yaml")) ? x : null;
  });
  assert.ok(texts(d).some((t) => /gw2\.yaml:11:\d+ Gateway default\/gw2: spec\.listeners\[0\]\.port: port \d+ is already used with protocol HTTP by Gateway default\/gw \(expected: one protocol per port\)/.test(t)), texts(d).join("\n"));
  // gw2 adds nothing that can be served, so the data plane's snapshot is unchanged.
  assert.equal(d.hash, before.hash);
  for (let i = 0; i < 3; i++) assert.equal((await get(port, `/after-conflict/${i}`)).pod, "echo-a");
  const status = (await json<{ items: { kind: string; metadata: { name: string }; status?: { listeners?: { name: string; conditions: { type: string; status: string; reason: string }[] }[] } }[] }>(gw.admin("/status"))).body;
  const gw2 = status.items.find((i) => i.kind === "Gateway" && i.metadata.name === "gw2");
  const conflicted = gw2?.status?.listeners?.[0]?.conditions.find((c) => c.type === "Conflicted");
  assert.deepEqual([conflicted?.status, conflicted?.reason], ["True", "ProtocolConflict"]);
  gw.write("gw2.yaml", null);
});
