// GRPCRoute end to end: real @grpc/grpc-js clients and servers through a real gateway process, over
// h2c (plain listener, prior knowledge) and TLS (ALPN h2): service/method matching (exact, regex),
// header matching, filters, weights, streaming both ways, trailers, and gRPC-aware errors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRPC_ECHO_SERVICE, startGrpcEchoServer, type GrpcEchoReply, type GrpcEchoServer } from "../../../src/demo/grpc-echo.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { gatewayYaml } from "../../helpers/gateway-yaml.js";
import { client, grpc, unary } from "./grpc-helpers.js";

const SVC = GRPC_ECHO_SERVICE;
let dir: string;
let gw: GatewayProcess;
let httpPort: number;
let httpsPort: number;
let caPem: string;
const pods: Record<string, GrpcEchoServer> = {};
let deadPort: number;

function backend(name: string, port: number): string {
  return `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: {name: ${name}, namespace: default}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: ${port}}}]
`;
}

const ref = (name: string, weight?: number): string => `{group: sluice.dev, kind: Backend, name: ${name}${weight !== undefined ? `, weight: ${weight}` : ""}}`;

function config(): Record<string, string> {
  const gateway = `apiVersion: v1
kind: Secret
metadata: {name: grpc-cert, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(readFileSync(join(dir, "gw.crt"))).toString("base64")}
  tls.key: ${Buffer.from(readFileSync(join(dir, "gw.key"))).toString("base64")}
---
${gatewayYaml("gw", [`{name: h2c, protocol: HTTP, port: ${httpPort}}`, `{name: tls, protocol: HTTPS, port: ${httpsPort}, tls: {certificateRefs: [{name: grpc-cert}]}}`], "namespace: default")}`;
  const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: exact, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [exact.test]
  rules:
  - matches: [{method: {service: ${SVC}, method: Echo}}]
    backendRefs: [${ref("v1")}]
  - matches: [{method: {service: ${SVC}, method: EchoTwo}}]
    backendRefs: [${ref("v2")}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: regex, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [regex.test]
  rules:
  - matches: [{method: {type: RegularExpression, service: ".*\\\\.GrpcEcho", method: "(Server|Client)Stream"}}]
    backendRefs: [${ref("v3")}]
  # Method only: fewer characters in the service than the regex rule, so it comes after it.
  - matches: [{method: {method: Bidi}}]
    backendRefs: [${ref("v1")}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: headers, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [headers.test]
  rules:
  - matches: [{headers: [{name: X-Tenant, value: blue}]}]
    backendRefs: [${ref("v2")}]
  - matches: [{headers: [{name: x-tenant, type: RegularExpression, value: "gr(ee|ai)n"}]}]
    backendRefs: [${ref("v3")}]
  - backendRefs: [${ref("v1")}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: weights, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [weights.test]
  rules:
  - backendRefs: [${ref("v1", 3)}, ${ref("v2", 1)}, ${ref("v3", 0)}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: filters, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [filters.test]
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: gateway}]
        add: [{name: X-Add, value: added}]
        remove: [x-remove]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add: [{name: X-Gateway, value: sluice}]
    - type: RequestMirror
      requestMirror: {backendRef: ${ref("v3")}}
    backendRefs: [${ref("v1")}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: broken, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [broken.test]
  rules:
  - backendRefs: [{name: no-such-service, port: 9000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: down, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [down.test]
  rules:
  - backendRefs: [${ref("dead")}]
`;
  return {
    "gateway.yaml": gateway,
    "backends.yaml": [backend("v1", pods.v1!.port), backend("v2", pods.v2!.port), backend("v3", pods.v3!.port), backend("dead", deadPort)].join("---\n"),
    "routes.yaml": routes,
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-grpc-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "gw.key"), "-out", join(dir, "gw.crt"), "-days", "2",
    "-subj", "/CN=grpc.test", "-addext", "subjectAltName=DNS:grpc.test,DNS:exact.test",
  ], { stdio: "ignore" });
  caPem = readFileSync(join(dir, "gw.crt"), "utf8");
  for (const p of ["v1", "v2", "v3"]) pods[p] = await startGrpcEchoServer({ pod: `grpc-${p}`, namespace: "default" });
  // A port nothing listens on: bound and released, so connections are refused.
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  deadPort = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  httpPort = await freePort();
  httpsPort = await freePort();
  gw = await GatewayProcess.start({ files: config() });
});

after(async () => {
  await gw?.stop();
  await Promise.all(Object.values(pods).map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("service/method matching", () => {
  test("exact service+method picks the rule's backend; the request the backend saw is the call", async () => {
    const one = await unary(httpPort, "Echo", { message: "hi" }, { authority: "exact.test" });
    assert.equal(one.code, 0, one.details);
    assert.equal(one.reply?.pod, "grpc-v1");
    assert.equal(one.reply?.method, `/${SVC}/Echo`);
    assert.equal(one.reply?.message, "hi");
    assert.equal(one.reply?.authority, "exact.test");
    const two = await unary(httpPort, "EchoTwo", {}, { authority: "exact.test" });
    assert.equal(two.reply?.pod, "grpc-v2");
  });

  test("a method no rule matches is UNIMPLEMENTED from the gateway, not an HTTP 404", async () => {
    const r = await unary(httpPort, "EchoThree", {}, { authority: "exact.test" });
    assert.equal(r.code, grpc.status.UNIMPLEMENTED);
    assert.match(r.details, /no route/);
    assert.equal(pods.v1!.calls.filter((c) => c.method.endsWith("/EchoThree")).length + pods.v2!.calls.filter((c) => c.method.endsWith("/EchoThree")).length, 0);
  });

  test("an unknown host is UNIMPLEMENTED too", async () => {
    const r = await unary(httpPort, "Echo", {}, { authority: "nobody.test" });
    assert.equal(r.code, grpc.status.UNIMPLEMENTED);
  });

  test("regular expression service/method matches streaming methods, both directions stream", async () => {
    // Server streaming, matched by the regex rule.
    const c = client(httpPort, { authority: "regex.test" });
    const replies = await new Promise<GrpcEchoReply[]>((resolve, reject) => {
      const out: GrpcEchoReply[] = [];
      const call = (c as unknown as { ServerStream(req: object): grpc.ClientReadableStream<GrpcEchoReply> }).ServerStream({ message: "s", count: 5 });
      call.on("data", (r: GrpcEchoReply) => out.push(r));
      call.on("error", reject);
      call.on("end", () => resolve(out));
    });
    assert.deepEqual(replies.map((r) => [r.pod, r.index]), [0, 1, 2, 3, 4].map((i) => ["grpc-v3", i]));
    // Client streaming: several messages in, one reply.
    const joined = await new Promise<GrpcEchoReply>((resolve, reject) => {
      const call = (c as unknown as { ClientStream(cb: (e: grpc.ServiceError | null, r?: GrpcEchoReply) => void): grpc.ClientWritableStream<object> }).ClientStream((e, r) => (e ? reject(e) : resolve(r!)));
      for (const m of ["a", "b", "c"]) call.write({ message: m });
      call.end();
    });
    assert.equal(joined.pod, "grpc-v3");
    assert.equal(joined.message, "a,b,c");
    // Bidi is not matched by the regex: the method-only rule sends it to v1. Each reply comes back
    // before the next message is sent, so nothing waits for the request to end.
    const bidi = (c as unknown as { Bidi(): grpc.ClientDuplexStream<object, GrpcEchoReply> }).Bidi();
    const got: GrpcEchoReply[] = [];
    for (const m of ["x", "y", "z"]) {
      const next = new Promise<GrpcEchoReply>((resolve, reject) => {
        bidi.once("data", resolve);
        bidi.once("error", reject);
      });
      bidi.write({ message: m });
      got.push(await next);
    }
    bidi.end();
    await new Promise<void>((r) => bidi.on("status", () => r()));
    assert.deepEqual(got.map((r) => [r.pod, r.message, r.index]), [["grpc-v1", "x", 0], ["grpc-v1", "y", 1], ["grpc-v1", "z", 2]]);
    c.close();
  });
});

describe("header matching", () => {
  test("exact (case-insensitive name) and regular expression header matches, fallback rule", async () => {
    const blue = await unary(httpPort, "Echo", {}, { authority: "headers.test", metadata: { "x-tenant": "blue" } });
    const green = await unary(httpPort, "Echo", {}, { authority: "headers.test", metadata: { "x-tenant": "green" } });
    const grain = await unary(httpPort, "EchoTwo", {}, { authority: "headers.test", metadata: { "x-tenant": "grain" } });
    const other = await unary(httpPort, "Echo", {}, { authority: "headers.test", metadata: { "x-tenant": "red" } });
    const none = await unary(httpPort, "Echo", {}, { authority: "headers.test" });
    assert.deepEqual([blue, green, grain, other, none].map((r) => r.reply?.pod), ["grpc-v2", "grpc-v3", "grpc-v3", "grpc-v1", "grpc-v1"]);
  });
});

describe("filters", () => {
  test("request header modifier edits the metadata the backend sees; response header modifier adds to the client's headers", async () => {
    const r = await unary(httpPort, "Echo", {}, { authority: "filters.test", metadata: { "x-set": "client", "x-add": "client", "x-remove": "gone" } });
    assert.equal(r.code, 0, r.details);
    const h = r.reply!.headers;
    assert.deepEqual(h["x-set"], ["gateway"]);
    assert.deepEqual(h["x-add"]?.join(",").split(/,\s*/), ["client", "added"]);
    assert.equal(h["x-remove"], undefined);
    assert.deepEqual(r.headers["x-gateway"], ["sluice"]);
  });

  test("request mirror: the mirror backend gets a copy of the call, the client the main reply", async () => {
    const id = `mirror-${Date.now()}`;
    const r = await unary(httpPort, "EchoTwo", { message: id }, { authority: "filters.test", metadata: { "x-mirror-id": id } });
    assert.equal(r.reply?.pod, "grpc-v1");
    const deadline = Date.now() + 3000;
    let copies = 0;
    while (Date.now() < deadline) {
      copies = pods.v3!.calls.filter((c) => c.headers["x-mirror-id"]?.[0] === id).length;
      if (copies > 0) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    // grpc-js calls the unary handler only once a whole message arrived: the copy carried the body.
    assert.equal(copies, 1);
    const copy = pods.v3!.calls.find((c) => c.headers["x-mirror-id"]?.[0] === id)!;
    assert.equal(copy.method, `/${SVC}/EchoTwo`);
  });
});

describe("weighted backends", () => {
  test("3:1 split over 200 calls, weight 0 gets nothing", async () => {
    const counts: Record<string, number> = {};
    const c = client(httpPort, { authority: "weights.test" });
    const echo = (c as unknown as { Echo(req: object, cb: (e: grpc.ServiceError | null, r?: GrpcEchoReply) => void): void }).Echo.bind(c);
    for (let i = 0; i < 200; i++) {
      const r = await new Promise<GrpcEchoReply>((resolve, reject) => echo({}, (e, rep) => (e ? reject(e) : resolve(rep!))));
      counts[r.pod] = (counts[r.pod] ?? 0) + 1;
    }
    c.close();
    assert.equal(counts["grpc-v3"] ?? 0, 0);
    const v1 = counts["grpc-v1"] ?? 0;
    // Expected 150; the weighted picker is deterministic per cycle, so the tolerance is generous.
    assert.ok(v1 >= 130 && v1 <= 170, JSON.stringify(counts));
    assert.equal(v1 + (counts["grpc-v2"] ?? 0), 200);
  });
});

describe("TLS listener", () => {
  test("gRPC over TLS (ALPN h2) reaches the routed backend", async () => {
    const r = await unary(httpsPort, "Echo", { message: "secure" }, { authority: "exact.test", tls: { caPem, servername: "exact.test" } });
    assert.equal(r.code, 0, r.details);
    assert.equal(r.reply?.pod, "grpc-v1");
    assert.equal(r.reply?.message, "secure");
    const no = await unary(httpsPort, "EchoThree", {}, { authority: "exact.test", tls: { caPem, servername: "exact.test" } });
    assert.equal(no.code, grpc.status.UNIMPLEMENTED);
  });
});

describe("statuses and trailers from the backend", () => {
  test("trailers reach the client; a backend error (trailers-only) keeps its code and message", async () => {
    const ok = await unary(httpPort, "Echo", {}, { authority: "exact.test", metadata: { "x-echo-set-trailer": "x-trailer:present" } });
    assert.equal(ok.code, 0);
    assert.deepEqual(ok.trailers["x-trailer"], ["present"]);
    const bad = await unary(httpPort, "Echo", {}, { authority: "exact.test", metadata: { "x-echo-grpc-status": "5" } });
    assert.equal(bad.code, grpc.status.NOT_FOUND);
    assert.match(bad.details, /asked to fail with status 5/);
  });
});

describe("gRPC-aware errors from the gateway", () => {
  test("an unresolved backendRef is UNAVAILABLE", async () => {
    const r = await unary(httpPort, "Echo", {}, { authority: "broken.test" });
    assert.equal(r.code, grpc.status.UNAVAILABLE);
  });

  test("a backend that refuses connections is UNAVAILABLE with the reason", async () => {
    const r = await unary(httpPort, "Echo", {}, { authority: "down.test" });
    assert.equal(r.code, grpc.status.UNAVAILABLE);
    assert.match(r.details, /upstream connect error/);
  });

  test("the answer is HTTP 200 trailers-only (END_STREAM on the HEADERS frame), not a text 404", async () => {
    const session = http2.connect(`http://127.0.0.1:${httpPort}`);
    try {
      const res = await new Promise<{ headers: http2.IncomingHttpHeaders; flags: number; body: number }>((resolve, reject) => {
        const s = session.request({ ":method": "POST", ":path": `/${SVC}/EchoThree`, ":authority": "exact.test", "content-type": "application/grpc", te: "trailers" });
        let body = 0;
        let head: { headers: http2.IncomingHttpHeaders; flags: number } | null = null;
        s.on("response", (headers, flags) => (head = { headers, flags }));
        s.on("data", (d: Buffer) => (body += d.length));
        s.on("close", () => (head ? resolve({ ...head, body }) : reject(new Error("no response"))));
        s.on("error", reject);
        s.end(Buffer.from([0, 0, 0, 0, 2, 0x7b, 0x7d]));
      });
      assert.equal(res.headers[":status"], 200);
      assert.equal(res.headers["grpc-status"], "12");
      assert.equal(res.headers["content-type"], "application/grpc");
      assert.ok((res.flags & 0x1) !== 0, "END_STREAM on the HEADERS frame");
      assert.equal(res.body, 0);
    } finally {
      session.close();
    }
  });

  test("the client's grpc-timeout bounds the call at the gateway: DEADLINE_EXCEEDED from the gateway", async () => {
    const session = http2.connect(`http://127.0.0.1:${httpPort}`);
    try {
      const started = Date.now();
      const res = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        // A raw client that does not enforce the deadline itself: the answer must come from the gateway.
        const s = session.request({ ":method": "POST", ":path": `/${SVC}/Echo`, ":authority": "exact.test", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "300m", "x-echo-delay-ms": "3000" });
        s.on("response", (h) => resolve(h));
        s.on("error", reject);
        s.end(Buffer.from([0, 0, 0, 0, 2, 0x7b, 0x7d]));
      });
      const took = Date.now() - started;
      assert.equal(res["grpc-status"], "4");
      assert.ok(took >= 250 && took < 2500, `answered after ${took} ms`);
    } finally {
      session.close();
    }
  });
});
