// gRPC helpers of the proxy: content-type detection, status mapping, grpc-message encoding,
// grpc-timeout parsing, and the request body copy kept for retries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { encodeGrpcMessage, grpcCodeFor, grpcStatusOf, grpcTimeoutMs, isGrpcRequest } from "../../../src/proxy/grpc.js";
import { ReplayCopy } from "../../../src/proxy/grpc-replay.js";

test("gRPC requests are told by content-type (not grpc-web)", () => {
  for (const ct of ["application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc;charset=utf-8"]) assert.ok(isGrpcRequest({ "content-type": ct }), ct);
  for (const ct of [undefined, "application/json", "application/grpc-web", "application/grpc-web+proto", "application/grpcx"]) assert.ok(!isGrpcRequest({ "content-type": ct }), String(ct));
});

test("HTTP statuses the gateway would send map to gRPC codes", () => {
  assert.equal(grpcCodeFor(404), 12);
  assert.equal(grpcCodeFor(500), 14);
  assert.equal(grpcCodeFor(503), 14);
  assert.equal(grpcCodeFor(504), 4);
  assert.equal(grpcCodeFor(401), 16);
  assert.equal(grpcCodeFor(403), 7);
  assert.equal(grpcCodeFor(418), 2);
});

test("grpc-message is percent-encoded outside printable ASCII and for %", () => {
  assert.equal(encodeGrpcMessage("no route"), "no route");
  assert.equal(encodeGrpcMessage("100% sure\n"), "100%25 sure%0A");
  assert.equal(encodeGrpcMessage("é"), "%C3%A9");
});

test("grpc-timeout units; invalid values mean no timeout", () => {
  assert.equal(grpcTimeoutMs("300m"), 300);
  assert.equal(grpcTimeoutMs("2S"), 2000);
  assert.equal(grpcTimeoutMs("1M"), 60_000);
  assert.equal(grpcTimeoutMs("1H"), 3_600_000);
  assert.equal(grpcTimeoutMs("1500u"), 2);
  assert.equal(grpcTimeoutMs("1n"), 1);
  for (const bad of [undefined, "", "5", "5x", "-1S", "1.5S", "1234567890S"]) assert.equal(grpcTimeoutMs(bad), 0, String(bad));
});

test("grpc-status of a header list", () => {
  assert.equal(grpcStatusOf(["content-type", "application/grpc", "grpc-status", "14"]), 14);
  assert.equal(grpcStatusOf(["grpc-status", "x"]), -1);
  assert.equal(grpcStatusOf([]), -1);
});

test("replay copy: the body streams through and is replayable once complete", async () => {
  const src = new PassThrough();
  const copy = new ReplayCopy(src, 10);
  const seen: Buffer[] = [];
  copy.stream.on("data", (c: Buffer) => seen.push(c));
  src.write("abc");
  assert.equal(copy.replay(), null, "not complete before the end");
  src.end("def");
  await new Promise((r) => copy.stream.on("end", r));
  assert.equal(Buffer.concat(seen).toString(), "abcdef");
  assert.equal(copy.replay()?.toString(), "abcdef");
});

test("replay copy: a body over the limit still streams but cannot be replayed", async () => {
  const src = new PassThrough();
  const copy = new ReplayCopy(src, 4);
  let n = 0;
  copy.stream.on("data", (c: Buffer) => (n += c.length));
  src.end("0123456789");
  await new Promise((r) => copy.stream.on("end", r));
  assert.equal(n, 10);
  assert.equal(copy.replay(), null);
});
