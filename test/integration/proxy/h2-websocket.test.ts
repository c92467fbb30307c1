// WebSocket over HTTP/2 (RFC 8441) through a real gateway: the listener advertises extended CONNECT,
// a CONNECT stream with :protocol websocket is routed like any request and carried to the backend as
// an HTTP/1.1 Upgrade; WebSocket frames then flow both ways on the HTTP/2 stream. Over h2c (plain
// listener, prior knowledge) and TLS (ALPN h2).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../../helpers/gateway-yaml.js";
import { selfSignedTlsSecret } from "../../helpers/tls-secret.js";

let dir: string;
let gw: GatewayProcess;
let echo: EchoServer;
let httpPort: number;
let httpsPort: number;
let cert: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-h2ws-"));
  const secret = selfSignedTlsSecret(dir, "ws.test");
  cert = secret.certPem;
  echo = await startEchoServer({ pod: "ws-pod" });
  httpPort = await freePort();
  httpsPort = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gw.yaml": `${secret.yaml}---
${gatewayYaml("gw", [`{name: http, protocol: HTTP, port: ${httpPort}}`, `{name: https, protocol: HTTPS, port: ${httpsPort}, tls: {certificateRefs: [{name: cert}]}}`], "namespace: default")}---
${backendYaml("echo", echo.port)}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ws, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [ws.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /chat}}]
    backendRefs: [{group: sluice.dev, kind: Backend, name: echo}]
`,
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A masked client text frame (RFC 6455), payload under 126 bytes. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** The text of an unmasked server frame, or null when `buf` does not hold a whole one yet. */
function serverText(buf: Buffer): string | null {
  if (buf.length < 2) return null;
  const len = buf[1]! & 0x7f;
  if (len > 125 || buf.length < 2 + len) return null;
  return buf.subarray(2, 2 + len).toString();
}

interface Opened {
  session: http2.ClientHttp2Session;
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
}

async function open(tls: boolean, path: string, authority = "ws.test", protocol = "websocket"): Promise<Opened> {
  const session = tls
    ? http2.connect(`https://127.0.0.1:${httpsPort}`, { ca: cert, servername: "ws.test" })
    : http2.connect(`http://127.0.0.1:${httpPort}`);
  const settings = await new Promise<http2.Settings>((resolve, reject) => {
    session.once("remoteSettings", resolve);
    session.once("error", reject);
  });
  assert.equal(settings.enableConnectProtocol, true, "the gateway advertises extended CONNECT");
  const stream = session.request({ ":method": "CONNECT", ":protocol": protocol, ":scheme": tls ? "https" : "http", ":path": path, ":authority": authority, "sec-websocket-version": "13" }, { endStream: false });
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once("response", resolve);
    stream.once("error", reject);
  });
  return { session, status: Number(headers[":status"]), headers, stream };
}

async function exchange(o: Opened, text: string): Promise<string> {
  let buf = Buffer.alloc(0);
  const got = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const t = serverText(buf);
      if (t !== null) {
        o.stream.off("data", onData);
        resolve(t);
      }
    };
    o.stream.on("data", onData);
    o.stream.once("error", reject);
    setTimeout(() => reject(new Error("no WebSocket reply in 5 s")), 5000).unref();
  });
  o.stream.write(clientFrame(text));
  return got;
}

for (const tls of [false, true]) {
  test(`WebSocket over HTTP/2 ${tls ? "TLS (ALPN h2)" : "h2c"}: 200, frames both ways, backend saw an HTTP/1.1 Upgrade`, async () => {
    const o = await open(tls, "/chat/room?x=1");
    try {
      assert.equal(o.status, 200);
      assert.equal(await exchange(o, "hello"), "ws-pod: hello");
      assert.equal(await exchange(o, "again"), "ws-pod: again");
      const seen = echo.requests.filter((r) => r.path === "/chat/room?x=1").at(-1);
      assert.ok(seen, "the backend saw the upgrade request");
      assert.equal(seen.method, "GET");
      assert.equal(seen.proto, "HTTP/1.1");
      assert.equal(seen.host, "ws.test");
      assert.deepEqual(seen.headers["upgrade"], ["websocket"]);
      assert.ok(seen.headers["sec-websocket-key"]?.[0], "the gateway made a Sec-WebSocket-Key");
    } finally {
      o.stream.close();
      o.session.close();
    }
  });
}

test("no route: the extended CONNECT is answered 404 on the stream", async () => {
  const o = await open(false, "/elsewhere");
  try {
    assert.equal(o.status, 404);
  } finally {
    o.session.close();
  }
});

test("a CONNECT for another protocol is refused with 405", async () => {
  const o = await open(false, "/chat", "ws.test", "not-websocket");
  try {
    assert.equal(o.status, 405);
  } finally {
    o.session.close();
  }
});
