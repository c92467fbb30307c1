// Retries on gRPC status codes: a route whose retry policy lists grpc-status values retries calls
// that fail with one of them before any message (trailers-only), replaying the request body kept
// while it streamed. The policy comes from a BackendTrafficPolicy in a full gateway; here the IR
// snapshot is built by hand and served by the real data plane.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startGrpcEchoServer, type GrpcEchoServer } from "../../../src/demo/grpc-echo.js";
import type { IrCluster } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";
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
