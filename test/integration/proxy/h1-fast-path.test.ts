// The HTTP/1.1 fast path (src/proxy/h1/) where it differs in mechanism from node:http: back-pressure
// from a client that stops reading, a port that closes with connections open on it (idle ones go at
// once; one with a response in progress finishes it first), and HTTP/1.1 over TLS (ALPN http/1.1
// or none), including the hand-over to node:http on a TLS connection. Byte-level behaviour shared
// with node:http on a plain port is in test/integration/http1-wire.test.ts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml, prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { selfSignedTlsSecret } from "../../helpers/tls-secret.js";
import { Wire, type WireResponse } from "../../helpers/wire.js";

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;
let tlsPort: number;
let dir: string;
let secret: string;

const config = (listenerPort: number, tlsListenerPort: number): string =>
  `${secret}---\n${gatewayYaml("gw", [`{name: web, protocol: HTTP, port: ${listenerPort}}`, `{name: tls, protocol: HTTPS, port: ${tlsListenerPort}, tls: {certificateRefs: [{name: cert}]}}`], "namespace: default")}---\n${backendYaml("echo", echo.port)}${prefixRouteYaml("app", ["/"])}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-h1fast-"));
  secret = selfSignedTlsSecret(dir, "app.example").yaml;
  echo = await startEchoServer({ pod: "e1" });
  port = await freePort();
  tlsPort = await freePort();
  gw = await GatewayProcess.start({ files: { "gw.yaml": config(port, tlsPort) } });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, extra = ""): string => `GET ${path} HTTP/1.1\r\nHost: app.example\r\n${extra}\r\n`;
const pathOf = (r: WireResponse): string => r.json<{ path: string }>().path;

test("a client that stops reading holds the response back (back-pressure), then gets all of it; the connection goes on", async () => {
  const c = await Wire.open(port);
  try {
    const size = 8 * 1024 * 1024;
    c.sock.pause();
    c.write(get("/big", `x-echo-body-bytes: ${size}\r\n`));
    // Long enough for the socket buffers to fill and the gateway to wait for 'drain'.
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(c.pending().length < size, "nothing can be read while paused");
    c.sock.resume();
    const r = await c.response({ ms: 20_000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    assert.equal(createHash("sha256").update(r.body).digest("hex"), createHash("sha256").update(Buffer.alloc(size, "x")).digest("hex"));
    c.write(get("/after"));
    assert.equal(pathOf(await c.response()), "/after");
  } finally {
    c.destroy();
  }
});

test("ports that close: idle connections are closed, one with a response in progress gets it first (plain and TLS)", async () => {
  const clients = [await Wire.open(port), await Wire.open(port), await Wire.openTls(tlsPort, "app.example", ["http/1.1"]), await Wire.openTls(tlsPort, "app.example", ["http/1.1"])];
  const [idle, busy, tlsIdle, tlsBusy] = clients as [Wire, Wire, Wire, Wire];
  try {
    for (const [i, c] of clients.entries()) {
      c.write(get(`/warm/${i}`));
      assert.equal((await c.response()).status, 200);
    }
    busy.write(get("/slow/plain", "x-echo-delay-ms: 700\r\n"));
    tlsBusy.write(get("/slow/tls", "x-echo-delay-ms: 700\r\n"));
    // The requests must be with the backend before the ports go.
    const t0 = Date.now();
    while (echo.requests.filter((q) => q.path.startsWith("/slow/")).length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    const before = (await gw.readyState())?.version ?? 0;
    const other = await freePort();
    const otherTls = await freePort();
    gw.write("gw.yaml", config(other, otherTls));
    await gw.waitReady(before + 1);
    assert.ok(await idle.closesWithin(5000), "idle connection closed");
    assert.ok(await tlsIdle.closesWithin(5000), "idle TLS connection closed");
    for (const [c, path] of [[busy, "/slow/plain"], [tlsBusy, "/slow/tls"]] as const) {
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(pathOf(r), path);
      assert.ok(await c.closesWithin(5000), `${path}: connection closed after its response`);
    }
    // The new ports serve.
    for (const n of [await Wire.open(other), await Wire.openTls(otherTls, "app.example", ["http/1.1"])]) {
      n.write(get("/new-port"));
      assert.equal((await n.response()).status, 200);
      n.destroy();
    }
    port = other;
    tlsPort = otherTls;
  } finally {
    for (const c of clients) c.destroy();
  }
});

test("HTTP/1.1 over TLS (ALPN http/1.1, and no ALPN): simple requests, a body handed over to node:http, then more on the same connection", async () => {
  for (const alpn of [["http/1.1"], undefined]) {
    const c = await Wire.openTls(tlsPort, "app.example", alpn);
    try {
      for (let i = 0; i < 3; i++) {
        c.write(get(`/tls/${i}`));
        const r = await c.response();
        assert.equal(r.status, 200);
        // node:http's fallback on a TLS port sends no Keep-Alive field; neither does the fast path.
        assert.equal(r.get("connection"), "keep-alive");
        assert.equal(r.get("keep-alive"), undefined);
        assert.equal(pathOf(r), `/tls/${i}`);
      }
      c.write("POST /tls/body HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\n\r\nhello");
      const e = (await c.response()).json<{ method: string; body: string; headers: Record<string, string[]> }>();
      assert.equal(e.method, "POST");
      assert.equal(e.body, "hello");
      assert.deepEqual(e.headers["x-forwarded-proto"], ["https"]);
      c.write(get("/tls/after"));
      assert.equal(pathOf(await c.response()), "/tls/after");
    } finally {
      c.destroy();
    }
  }
});
