// Retries on gRPC status codes: a route whose retry policy lists grpc-status values retries calls
// that fail with one of them before any message (trailers-only), replaying the request body kept
// while it streamed. First on the data plane with a hand-made snapshot, then through a real gateway
// whose GRPCRoute gets the retry from a BackendTrafficPolicy (retryOn triggers such as unavailable).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startGrpcEchoServer, type GrpcEchoServer } from "../../../src/demo/grpc-echo.js";
import type { IrCluster } from "../../../src/ir/types.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../../helpers/gateway-yaml.js";
import { grpc, unary } from "./grpc-helpers.js";
import { forward, gateway, listener, route, snapshot } from "./helpers.js";

let dp: ProxyDataPlane;
let echo: GrpcEchoServer;
let port: number;

before(async () => {
  echo = await startGrpcEchoServer({ pod: "retry-pod" });
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  const cluster: IrCluster = { name: "grpc", protocol: "h2c", endpoints: [{ address: "127.0.0.1", port: echo.port, weight: 1 }] };
  const retrying = route({ path: { type: "PathPrefix", value: "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho" } }, forward("grpc"), {
    ref: { kind: "GRPCRoute", namespace: "default", name: "retrying", rule: 0, match: 0 },
    retry: { attempts: 2, codes: [], grpcCodes: [14], backoffMs: 5 },
  });
  const res = await dp.apply(snapshot([listener(port, [gateway([retrying])])], [cluster]));
  assert.ok(res[0]!.ok, JSON.stringify(res));
});

after(async () => {
  await dp.close();
  await echo.close();
});

const callsWith = (id: string): number => echo.calls.filter((c) => c.headers["x-echo-id"]?.[0] === id).length;

test("UNAVAILABLE twice, then OK: the client sees OK and the backend saw the same request three times", async () => {
  const id = randomUUID();
  const r = await unary(port, "Echo", { message: "again" }, { metadata: { "x-echo-grpc-status": "14", "x-echo-fail-times": "2", "x-echo-id": id } });
  assert.equal(r.code, 0, r.details);
  assert.equal(r.reply?.message, "again", "the replayed body is the original message");
  assert.equal(callsWith(id), 3);
});

test("more failures than attempts: the last UNAVAILABLE reaches the client", async () => {
  const id = randomUUID();
  const r = await unary(port, "Echo", {}, { metadata: { "x-echo-grpc-status": "14", "x-echo-fail-times": "5", "x-echo-id": id } });
  assert.equal(r.code, grpc.status.UNAVAILABLE);
  assert.equal(callsWith(id), 3);
});

test("a status not in the policy is not retried", async () => {
  const id = randomUUID();
  const r = await unary(port, "Echo", {}, { metadata: { "x-echo-grpc-status": "9", "x-echo-fail-times": "1", "x-echo-id": id } });
  assert.equal(r.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(callsWith(id), 1);
});

describe("through a gateway: BackendTrafficPolicy retry on a GRPCRoute", () => {
  let gw: GatewayProcess;
  let gwPort: number;
  before(async () => {
    gwPort = await freePort();
    gw = await GatewayProcess.start({
      files: {
        "config.yaml": `${gatewayYaml("gw", [`{name: h2c, protocol: HTTP, port: ${gwPort}}`], "namespace: default")}---
${backendYaml("echo", echo.port)}apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: sluice.dev, kind: Backend, name: echo}]}]
---
apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: retry-unavailable, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GRPCRoute, name: rpc}]
  retry:
    numRetries: 2
    retryOn: {triggers: [unavailable, resource-exhausted]}
    perRetry: {backOff: {baseInterval: 5ms}}
`,
      },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  test("UNAVAILABLE and RESOURCE_EXHAUSTED are retried, the call succeeds; the backend saw each attempt", async () => {
    for (const code of ["14", "8"]) {
      const id = randomUUID();
      const r = await unary(gwPort, "Echo", { message: "m" }, { metadata: { "x-echo-grpc-status": code, "x-echo-fail-times": "2", "x-echo-id": id } });
      assert.equal(r.code, 0, `${code}: ${r.details}`);
      assert.equal(callsWith(id), 3);
    }
  });

  test("a code the policy does not list (INTERNAL) is passed on at once", async () => {
    const id = randomUUID();
    const r = await unary(gwPort, "Echo", {}, { metadata: { "x-echo-grpc-status": "13", "x-echo-fail-times": "1", "x-echo-id": id } });
    assert.equal(r.code, grpc.status.INTERNAL);
    assert.equal(callsWith(id), 1);
  });
});
