// Routing and filters over real sockets: ProxyDataPlane in this process, echo backends on 127.0.0.1.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer, type EchoRequest, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import type { IrListener, IrCluster } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

let a: EchoServer;
let b: EchoServer;
let mirror: EchoServer;
let port: number;
let dp: ProxyDataPlane;
let clusters: IrCluster[];

before(async () => {
  a = await startEchoServer({ pod: "a" });
  b = await startEchoServer({ pod: "b" });
  mirror = await startEchoServer({ pod: "m" });
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  clusters = [cluster("a", [a]), cluster("b", [b]), cluster("m", [mirror])];
});

after(async () => {
  await dp.close();
  agent.destroy();
  await Promise.all([a.close(), b.close(), mirror.close()]);
});

async function apply(l: IrListener): Promise<void> {
  const res = await dp.apply(snapshot([l], clusters));
  assert.ok(res.every((r) => r.ok), JSON.stringify(res));
}

test("routes by path (segment prefix, exact, regex), method, header and query, in the given order", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "Exact", value: "/exact" } }, forward("b")),
        route({ path: { type: "PathPrefix", value: "/foo/" } }, forward("b")),
        route({ path: { type: "RegularExpression", value: "/re/[0-9]+" } }, forward("b")),
        route({ path: { type: "PathPrefix", value: "/m" }, method: "POST" }, forward("b")),
        route({ path: { type: "PathPrefix", value: "/h" }, headers: [{ type: "Exact", name: "x-v", value: "1" }] }, forward("b")),
        route({ path: { type: "PathPrefix", value: "/q" }, queryParams: [{ type: "Exact", name: "v", value: "1" }] }, forward("b")),
        route({ path: { type: "PathPrefix", value: "/" } }, forward("a")),
      ]),
    ]),
  );
  const pod = async (path: string, o: Parameters<typeof request>[2] = {}): Promise<string> => (await request(port, path, o)).json<EchoResponse>().pod;
  assert.equal(await pod("/exact"), "b");
  assert.equal(await pod("/exact/"), "a");
  assert.equal(await pod("/foo"), "b");
  assert.equal(await pod("/foo/"), "b");
  assert.equal(await pod("/foo/bar"), "b");
  assert.equal(await pod("/foobar"), "a");
  assert.equal(await pod("/re/123"), "b");
  assert.equal(await pod("/re/12x"), "a");
  assert.equal(await pod("/m", { method: "POST", body: "x" }), "b");
  assert.equal(await pod("/m"), "a");
  assert.equal(await pod("/h", { headers: { "X-V": "1" } }), "b");
  assert.equal(await pod("/h", { headers: { "x-v": "2" } }), "a");
  assert.equal(await pod("/q?v=1&w=2"), "b");
  assert.equal(await pod("/q?v=2"), "a");
});

test("listener isolation and virtual hosts: most specific hostname wins; unknown host 404", async () => {
  const l = listener(port, [
    { name: "ns/gw/exact", hostname: "a.example.com", tls: null, virtualHosts: [{ hostname: "a.example.com", routes: [route({}, forward("a"))] }] },
    {
      name: "ns/gw/wild",
      hostname: "*.example.com",
      tls: null,
      virtualHosts: [
        { hostname: "x.example.com", routes: [route({}, forward("a"))] },
        { hostname: "*.example.com", routes: [route({}, forward("b"))] },
      ],
    },
  ]);
  await apply(l);
  assert.equal((await request(port, "/", { host: "A.Example.com:1234" })).json<EchoResponse>().pod, "a");
  assert.equal((await request(port, "/", { host: "x.example.com" })).json<EchoResponse>().pod, "a");
  assert.equal((await request(port, "/", { host: "deep.y.example.com" })).json<EchoResponse>().pod, "b");
  assert.equal((await request(port, "/", { host: "example.com" })).status, 404);
  assert.equal((await request(port, "/", { host: "other.org" })).status, 404);
});

test("no matching route is 404", async () => {
  await apply(listener(port, [gateway([route({ path: { type: "Exact", value: "/only" } }, forward("a"))])]));
  assert.equal((await request(port, "/other")).status, 404);
});

test("request and response header modifiers; X-Forwarded-*; hop-by-hop removed", async () => {
  await apply(
    listener(port, [
      gateway([
        route({}, forward("a"), {
          filters: {
            requestHeaders: { set: [{ name: "X-Set", value: "s" }], add: [{ name: "X-Add", value: "2" }], remove: ["x-remove"] },
            responseHeaders: { set: [{ name: "X-Resp", value: "r" }], add: [], remove: ["x-drop"] },
          },
        }),
      ]),
    ]),
  );
  const r = await request(port, "/hdr", {
    headers: { "x-set": "old", "x-add": "1", "X-Remove": "gone", "x-echo-set-header": "x-drop:1,x-keep:1", "proxy-authorization": "p" },
  });
  const e = r.json<EchoResponse>();
  assert.deepEqual(e.headers["x-set"], ["s"]);
  assert.deepEqual(e.headers["x-add"], ["1,2"]);
  assert.equal(e.headers["x-remove"], undefined);
  assert.equal(e.headers["proxy-authorization"], undefined);
  assert.deepEqual(e.headers["x-forwarded-for"], ["127.0.0.1"]);
  assert.deepEqual(e.headers["x-forwarded-proto"], ["http"]);
  assert.deepEqual(e.headers["x-forwarded-host"], ["example.com"]);
  assert.equal(e.host, "example.com");
  assert.equal(r.headers["x-resp"], "r");
  assert.equal(r.headers["x-drop"], undefined);
  assert.equal(r.headers["x-keep"], "1");
});

test("redirects: scheme change infers the default port, explicit port, prefix replace", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/https" } }, { type: "redirect", scheme: "https", statusCode: 301 }),
        route({ path: { type: "PathPrefix", value: "/host" } }, { type: "redirect", hostname: "other.example", statusCode: 302 }),
        route({ path: { type: "PathPrefix", value: "/port" } }, { type: "redirect", port: 8443, scheme: "https", statusCode: 302 }),
        route({ path: { type: "PathPrefix", value: "/port80" } }, { type: "redirect", port: 80, statusCode: 302 }),
        route({ path: { type: "PathPrefix", value: "/old" } }, { type: "redirect", path: { type: "ReplacePrefixMatch", value: "/new" }, statusCode: 307 }),
        route({ path: { type: "PathPrefix", value: "/full" } }, { type: "redirect", path: { type: "ReplaceFullPath", value: "/x" }, statusCode: 308 }),
      ]),
    ]),
  );
  let r = await request(port, "/https/a?q=1");
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, "https://example.com/https/a?q=1");
  r = await request(port, "/host");
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `http://other.example:${port}/host`);
  r = await request(port, "/port/z");
  assert.equal(r.headers.location, "https://example.com:8443/port/z");
  r = await request(port, "/port80");
  assert.equal(r.headers.location, "http://example.com/port80");
  r = await request(port, "/old/thing");
  assert.equal(r.status, 307);
  assert.equal(r.headers.location, `http://example.com:${port}/new/thing`);
  r = await request(port, "/full/thing");
  assert.equal(r.headers.location, `http://example.com:${port}/x`);
});

test("URL rewrite: hostname and path (full, prefix to / and to another prefix)", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/strip" } }, forward("a"), { filters: { urlRewrite: { path: { type: "ReplacePrefixMatch", value: "/" } } } }),
        route({ path: { type: "PathPrefix", value: "/pre" } }, forward("a"), { filters: { urlRewrite: { hostname: "rw.example", path: { type: "ReplacePrefixMatch", value: "/bar" } } } }),
        route({ path: { type: "PathPrefix", value: "/full" } }, forward("a"), { filters: { urlRewrite: { path: { type: "ReplaceFullPath", value: "/one" } } } }),
      ]),
    ]),
  );
  const e = async (p: string): Promise<EchoResponse> => (await request(port, p)).json<EchoResponse>();
  assert.equal((await e("/strip/three")).path, "/three");
  assert.equal((await e("/strip")).path, "/");
  const pre = await e("/pre/x?y=1");
  assert.equal(pre.path, "/bar/x?y=1");
  assert.equal(pre.host, "rw.example");
  assert.equal((await e("/full/a/b")).path, "/one");
});

test("direct response, unresolved backend 500, empty cluster 503", async () => {
  clusters.push({ name: "empty", protocol: "http1", endpoints: [] });
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/direct" } }, { type: "direct", status: 418, body: "teapot" }),
        route({ path: { type: "PathPrefix", value: "/unresolved" } }, forward(null)),
        route({ path: { type: "PathPrefix", value: "/none" } }, { type: "forward", backends: [] }),
        route({ path: { type: "PathPrefix", value: "/empty" } }, forward("empty")),
      ]),
    ]),
  );
  const d = await request(port, "/direct");
  assert.equal(d.status, 418);
  assert.equal(d.body, "teapot");
  assert.equal((await request(port, "/unresolved")).status, 500);
  assert.equal((await request(port, "/none")).status, 500);
  assert.equal((await request(port, "/empty")).status, 503);
  clusters.pop();
});

test("weighted backends split traffic within tolerance; unresolved share gets 500", async () => {
  await apply(
    listener(port, [
      gateway([
        route({ path: { type: "PathPrefix", value: "/w" } }, forward({ cluster: "a", weight: 3 }, { cluster: "b", weight: 1 })),
        route({ path: { type: "PathPrefix", value: "/half" } }, forward({ cluster: "a", weight: 1 }, { cluster: null, weight: 1 })),
      ]),
    ]),
  );
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 200; i++) counts[(await request(port, "/w")).json<EchoResponse>().pod]!++;
  assert.ok(Math.abs(counts.a! - 150) <= 15, JSON.stringify(counts));
  let errors = 0;
  for (let i = 0; i < 100; i++) if ((await request(port, "/half")).status === 500) errors++;
  assert.ok(errors >= 40 && errors <= 60, `500s: ${errors}`);
});

test("backend-level filters apply after rule-level ones for the chosen backend", async () => {
  await apply(
    listener(port, [
      gateway([
        route(
          {},
          forward({ cluster: "a", filters: { requestHeaders: { set: [{ name: "x-rule", value: "backend" }], add: [], remove: [] } } }),
          { filters: { requestHeaders: { set: [{ name: "x-rule", value: "rule" }, { name: "x-only-rule", value: "1" }], add: [], remove: [] } } },
        ),
      ]),
    ]),
  );
  const e = (await request(port, "/")).json<EchoResponse>();
  assert.deepEqual(e.headers["x-rule"], ["backend"]);
  assert.deepEqual(e.headers["x-only-rule"], ["1"]);
});

test("RequestRedirect on a backendRef answers its share with the redirect; the backend sees nothing", async () => {
  const redirect = { type: "redirect" as const, path: { type: "ReplacePrefixMatch" as const, value: "/moved" }, statusCode: 302 as const };
  await apply(
    listener(port, [
      gateway([
        route(
          { path: { type: "PathPrefix", value: "/split" } },
          forward({ cluster: "a", filters: { redirect, responseHeaders: { set: [{ name: "x-share", value: "redirect" }], add: [], remove: [] } } }, { cluster: "b" }),
        ),
        route({ path: { type: "PathPrefix", value: "/all" } }, forward({ cluster: "a", filters: { redirect: { type: "redirect", scheme: "https", statusCode: 301 } } })),
      ]),
    ]),
  );
  const seenByA = a.requests.length;
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 20; i++) {
    const r = await request(port, "/split/x?q=1");
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 302) {
      assert.equal(r.headers.location, `http://example.com:${port}/moved/x?q=1`);
      assert.equal(r.headers["x-share"], "redirect");
    } else assert.equal(r.json<EchoResponse>().pod, "b");
  }
  // Equal weights: smooth round robin alternates the two shares.
  assert.deepEqual(statuses, { 200: 10, 302: 10 });
  const all = await request(port, "/all/y");
  assert.equal(all.status, 301);
  assert.equal(all.headers.location, "https://example.com/all/y");
  // An upgrade request picking that backend is redirected too, not piped.
  const raw = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => {
      sock.write("GET /all/ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    });
    let acc = "";
    sock.on("data", (c: Buffer) => (acc += c.toString("latin1")));
    sock.on("close", () => resolve(acc));
    sock.on("error", reject);
    sock.setTimeout(5000, () => sock.destroy(new Error("timeout")));
  });
  assert.match(raw, /^HTTP\/1\.1 301 /);
  assert.match(raw, /\r\nlocation: https:\/\/example\.com\/all\/ws\r\n/i);
  assert.equal(a.requests.length, seenByA);
});

test("request mirror receives a copy; the client gets the main backend's answer", async () => {
  await apply(listener(port, [gateway([route({}, forward("a"), { filters: { mirrors: [{ cluster: "m", percent: 100 }] } })])]));
  const before = mirror.requests.length;
  const r = await request(port, "/mirrored", { method: "POST", body: "payload" });
  assert.equal(r.json<EchoResponse>().pod, "a");
  const deadline = Date.now() + 2000;
  while (mirror.requests.length === before && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  const copy = mirror.requests[mirror.requests.length - 1]!;
  assert.equal(copy.path, "/mirrored");
  assert.equal(copy.body, "payload");
});

test("request mirror: bodies too large to buffer, and chunked ones, are streamed to the mirror whole", async () => {
  await apply(listener(port, [gateway([route({}, forward("a"), { filters: { mirrors: [{ cluster: "m", percent: 100 }] } })])]));
  // 1 MiB with a known length (over the 64 KiB buffering bound), then a chunked body of unknown length.
  const big = "0123456789abcdef".repeat(64 * 1024);
  for (const chunked of [false, true]) {
    const path = `/mirrored-big-${chunked ? "chunked" : "sized"}`;
    const seen = mirror.requests.length;
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { host: "example.com" }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      if (!chunked) req.setHeader("content-length", Buffer.byteLength(big));
      // Several writes, so the body arrives in pieces.
      for (let i = 0; i < 4; i++) req.write(big.slice((i * big.length) / 4, ((i + 1) * big.length) / 4));
      req.end();
    });
    assert.equal(reply.status, 200);
    const main = JSON.parse(reply.body) as EchoResponse;
    assert.equal(main.pod, "a");
    assert.equal(main.body.length, big.length);
    assert.equal(main.body, big);
    const deadline = Date.now() + 5000;
    const copyOf = (): EchoRequest | undefined => mirror.requests.slice(seen).find((r) => r.path === path);
    while (copyOf() === undefined && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    const copy = copyOf();
    assert.ok(copy, `the mirror never saw ${path}`);
    assert.equal(copy.body.length, big.length);
    assert.equal(copy.body, big);
  }
});

test("request mirror: a mirror that never reads cannot hold up a large streamed request", async () => {
  // Accepts connections and never reads a byte: its socket buffers fill, the copy falls behind.
  const held: net.Socket[] = [];
  const stuck = net.createServer((s) => {
    s.pause();
    held.push(s);
  });
  await new Promise<void>((r) => stuck.listen(0, "127.0.0.1", () => r()));
  const stuckPort = (stuck.address() as net.AddressInfo).port;
  try {
    const stuckCluster: IrCluster = { name: "stuck", protocol: "http1", endpoints: [{ address: "127.0.0.1", port: stuckPort, weight: 1 }] };
    await dp.apply(snapshot([listener(port, [gateway([route({}, forward("a"), { filters: { mirrors: [{ cluster: "stuck", percent: 100 }] } })])])], [...clusters, stuckCluster]));
    const big = "x".repeat(8 * 1024 * 1024);
    const started = Date.now();
    const r = await request(port, "/mirror-stuck", { method: "POST", body: big, timeoutMs: 15_000 });
    assert.equal(r.status, 200);
    assert.equal(r.json<EchoResponse>().body.length, big.length);
    assert.ok(Date.now() - started < 10_000);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((r) => stuck.close(r));
  }
});
