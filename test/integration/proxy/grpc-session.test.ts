// GRPCRoute sessionPersistence through a real gateway process, with @grpc/grpc-js clients and
// servers: a cookie session (Set-Cookie in the response metadata, sent back as `cookie` metadata)
// and a header session (the session header in the response metadata, sent back as request
// metadata) keep every call of a client on one backend endpoint, even on fresh channels; calls
// without the session spread over the endpoints.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { GRPC_ECHO_SERVICE, startGrpcEchoServer, type GrpcEchoServer } from "../../../src/demo/grpc-echo.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { unary, type CallResult } from "./grpc-helpers.js";
import { backendYaml, GATEWAY } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
const pods: GrpcEchoServer[] = [];

const rule = (method: string, session: string): string => `
  - matches: [{ method: { service: ${GRPC_ECHO_SERVICE}, method: ${method} } }]
${session ? `    sessionPersistence: ${session}\n` : ""}    backendRefs: [{ group: sluice.dev, kind: Backend, name: three }]`;

before(async () => {
  for (let i = 0; i < 3; i++) pods.push(await startGrpcEchoServer({ pod: `g${i}` }));
  port = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml": backendYaml("three", pods.map((p) => ({ port: p.port }))),
      "routes.yaml": `---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: sticky, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:${rule("Echo", "{ type: Cookie, sessionName: grpc-session }")}${rule("EchoTwo", "{ type: Header, sessionName: x-grpc-session }")}${rule("EchoThree", "")}
`,
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const p of pods) await p.close();
});

function ok(r: CallResult): string {
  assert.equal(r.code, 0, r.details);
  return r.reply!.pod;
}

test("without a session, calls spread over the three endpoints", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add(ok(await unary(port, "EchoThree")));
  assert.ok(seen.size > 1, `every call went to ${[...seen].join(", ")}`);
});

test("cookie session: the first call sets the cookie; calls sending it back stay on its endpoint", async () => {
  const first = await unary(port, "Echo");
  const pod = ok(first);
  const setCookie = first.headers["set-cookie"]?.[0] ?? "";
  assert.match(setCookie, /^grpc-session=[^;]+; Path=\//, `set-cookie: ${setCookie}`);
  const cookie = setCookie.split(";")[0]!;
  for (let i = 0; i < 10; i++) assert.equal(ok(await unary(port, "Echo", {}, { metadata: { cookie } })), pod, `call ${i} with ${cookie}`);
  // Another client (no cookie) is not pinned to that endpoint.
  const others = new Set<string>();
  for (let i = 0; i < 12; i++) others.add(ok(await unary(port, "Echo")));
  assert.ok(others.size > 1, "calls without the cookie spread");
});

test("header session: the session header comes back in the response metadata; calls sending it stay on its endpoint", async () => {
  const first = await unary(port, "EchoTwo");
  const pod = ok(first);
  const token = first.headers["x-grpc-session"]?.[0];
  assert.ok(token, `no x-grpc-session in ${JSON.stringify(first.headers)}`);
  for (let i = 0; i < 10; i++) assert.equal(ok(await unary(port, "EchoTwo", {}, { metadata: { "x-grpc-session": token } })), pod, `call ${i}`);
  // Each endpoint hands out its own token: pinning to another endpoint works the same way.
  let other: CallResult | null = null;
  for (let i = 0; i < 12 && other === null; i++) {
    const r = await unary(port, "EchoTwo");
    if (ok(r) !== pod) other = r;
  }
  assert.ok(other, "a call without the header reached another endpoint");
  const otherToken = other.headers["x-grpc-session"]![0]!;
  assert.notEqual(otherToken, token);
  for (let i = 0; i < 5; i++) assert.equal(ok(await unary(port, "EchoTwo", {}, { metadata: { "x-grpc-session": otherToken } })), other.reply!.pod);
});
