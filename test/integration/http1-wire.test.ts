// HTTP/1.1 server side of a plain-HTTP listener, byte for byte: a real gateway, raw client sockets
// that write exact bytes and read exact responses, and the echo backend (with a few hand-made
// answers) behind one route. Pins down what node:http does today so that any other HTTP/1.1
// front end must behave the same on the wire. Where today's answer is questionable (a request
// pipelined after Connection: close, "HTTP/2.0" in a request line, two Host fields) the test says so.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type http from "node:http";
import net from "node:net";
import { startEchoServer, type EchoRequest, type EchoResponse, type EchoServer } from "../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../helpers/gateway.js";
import { Wire, type WireResponse } from "../helpers/wire.js";
import { backendYaml, gatewayYaml, prefixRouteYaml } from "../helpers/gateway-yaml.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const get = (path: string, extra = ""): string => `GET ${path} HTTP/1.1\r\nHost: app.example\r\n${extra}\r\n`;

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;
/** Paths of /slow requests whose backend socket closed before the answer was due. */
const abandoned: string[] = [];

/**
 * Hand-made backend answers, by path: the echo server answers everything else with its JSON
 * description of the request.
 */
function intercept(rec: EchoRequest, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const p = rec.path;
  if (p.startsWith("/status/")) {
    const code = Number(p.slice("/status/".length));
    res.writeHead(code, { etag: '"v1"', "x-from": "backend" });
    res.end();
    return true;
  }
  if (p === "/chunked") {
    // No content-length: node:http frames it chunked.
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("first-");
    setTimeout(() => {
      res.write("second-");
      res.end("third");
    }, 20);
    return true;
  }
  if (p === "/close-delimited") {
    // HTTP/1.1 without content-length or chunked: the body ends when the backend closes.
    const sock = req.socket;
    sock.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-from: raw\r\n\r\nbody-until-");
    setTimeout(() => sock.end("close"), 30);
    return true;
  }
  if (p === "/two-cookies") {
    res.writeHead(200, [
      ["content-type", "text/plain"],
      ["set-cookie", "a=1; Path=/"],
      ["set-cookie", "b=2; Path=/"],
      ["content-length", "2"],
    ].flat());
    res.end("ok");
    return true;
  }
  if (p.startsWith("/raw-headers")) {
    // The header fields exactly as they arrived (names with their case), and the target.
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ url: req.url, rawHeaders: req.rawHeaders }));
    return true;
  }
  if (p.startsWith("/slow")) {
    let gone = false;
    res.on("close", () => {
      if (!res.writableFinished) {
        gone = true;
        abandoned.push(p);
      }
    });
    setTimeout(() => {
      if (!gone) res.end("late");
    }, 500);
    return true;
  }
  return false;
}

before(async () => {
  echo = await startEchoServer({ pod: "e1", intercept });
  port = await freePort();
  gw = await GatewayProcess.start({
    files: { "gw.yaml": `${gatewayYaml("gw", [`{name: web, protocol: HTTP, port: ${port}}`], "namespace: default")}---\n${backendYaml("echo", echo.port)}${prefixRouteYaml("app", ["/"])}` },
  });
});

const wires = new Set<Wire>();
/** A raw connection to the gateway's listener, destroyed at the latest in after(). */
async function open(): Promise<Wire> {
  const w = await Wire.open(port);
  wires.add(w);
  return w;
}

after(async () => {
  for (const w of wires) w.destroy();
  await gw?.stop();
  await echo?.close();
});

const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const names = (r: WireResponse): string[] => r.lines.map(([k]) => k);

/** A 200 from the echo backend for `path` and `method`, on a connection kept alive. */
function assertEcho(r: WireResponse, path: string, method = "GET"): EchoResponse {
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.get("connection"), "keep-alive");
  const e = r.json();
  assert.equal(e.path, path);
  assert.equal(e.method, method);
  return e;
}

/** How many requests for paths starting with `prefix` the backend has received. */
const seen = (prefix: string): number => echo.requests.filter((q) => q.path.startsWith(prefix)).length;

test("1. five GETs in sequence on one keep-alive connection, the connection stays open", async () => {
  const w = await open();
  try {
    for (let i = 0; i < 5; i++) {
      w.write(get(`/seq/${i}`));

      assertEcho(await w.response(), `/seq/${i}`);
    }
    assert.equal(await w.closesWithin(100), false);
    assert.equal(w.pending(), "", "nothing after the last response");
  } finally {
    w.destroy();
  }
});

test("2. pipelining: three requests in one write get three responses in order, even when the first is slowest", async () => {
  const w = await open();
  try {
    w.write(get("/pipe/1", "x-echo-delay-ms: 150\r\n") + get("/pipe/2") + get("/pipe/3", "x-echo-delay-ms: 50\r\n"));
    for (const n of [1, 2, 3]) assertEcho(await w.response(), `/pipe/${n}`);
    assert.equal(await w.closesWithin(100), false);
    // Mixed methods and bodies in one write too.
    w.write(`POST /pipe/4 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 3\r\n\r\nabc${get("/pipe/5")}POST /pipe/6 HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n`);
    assert.equal(assertEcho(await w.response(), "/pipe/4", "POST").body, "abc");
    assert.equal(assertEcho(await w.response(), "/pipe/5").body, "");
    assert.equal(assertEcho(await w.response(), "/pipe/6", "POST").body, "xy");
  } finally {
    w.destroy();
  }
});

test("3. a request split across writes, and a head sent one byte at a time", async () => {
  const w = await open();
  try {
    w.write("GET /split/1 HTTP/1.1\r\n");
    await sleep(50);
    w.write("Host: app.example\r\nx-a: 1\r\n");
    await sleep(50);
    w.write("\r\n");
    assert.equal(assertEcho(await w.response(), "/split/1").headers["x-a"]?.[0], "1");
    // Head and body in separate writes.
    w.write("POST /split/2 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 10\r\n\r\n01234");
    await sleep(50);
    w.write("56789");
    assert.equal(assertEcho(await w.response(), "/split/2", "POST").body, "0123456789");
    const bytes = Buffer.from(get("/split/bytes", "x-b: 2\r\n"));
    for (let i = 0; i < bytes.length; i++) {
      w.write(bytes.subarray(i, i + 1));
      await sleep(2);
    }
    assert.equal(assertEcho(await w.response(), "/split/bytes").headers["x-b"]?.[0], "2");
  } finally {
    w.destroy();
  }
  // Byte by byte as the first bytes of a connection (the listener also tells h2c apart by them).
  const w2 = await open();
  try {
    const bytes = Buffer.from(get("/split/first"));
    for (let i = 0; i < bytes.length; i++) {
      w2.write(bytes.subarray(i, i + 1));
      await sleep(2);
    }
    assertEcho(await w2.response(), "/split/first");
  } finally {
    w2.destroy();
  }
});

test("4. HEAD: the backend's headers without a body, then a GET on the same connection", async () => {
  const w = await open();
  try {
    // The backend sends content-length for its HEAD answer: it is passed on.
    w.write("HEAD /two-cookies HTTP/1.1\r\nHost: app.example\r\n\r\n");
    const h = await w.response({ head: true });
    assert.equal(h.status, 200);
    assert.deepEqual(names(h), ["content-type", "set-cookie", "set-cookie", "content-length", "date", "Connection", "Keep-Alive"]);
    assert.equal(h.get("content-length"), "2");
    // The echo backend answers HEAD with neither content-length nor transfer-encoding: neither is added.
    w.write("HEAD /head HTTP/1.1\r\nHost: app.example\r\n\r\n");
    const h2 = await w.response({ head: true });
    assert.equal(h2.status, 200);
    assert.deepEqual(names(h2), ["content-type", "date", "Connection", "Keep-Alive"]);
    assert.equal(echo.requests.at(-1)?.method, "HEAD");
    // No body bytes were sent: the next response starts right after the head.
    w.write(get("/after-head"));
    assertEcho(await w.response(), "/after-head");
    w.write(get("/two-cookies"));
    const g = await w.response();
    assert.equal(g.body.toString(), "ok");
  } finally {
    w.destroy();
  }
});

test("5. 204 and 304 from the backend: no body, the connection is reused", async () => {
  const w = await open();
  try {
    for (const code of [204, 304]) {
      w.write(get(`/status/${code}`));
      const r = await w.response();
      assert.equal(r.status, code);
      assert.equal(r.reason, code === 204 ? "No Content" : "Not Modified");
      assert.deepEqual(names(r), ["etag", "x-from", "date", "Connection", "Keep-Alive"]);
      assert.equal(r.get("etag"), '"v1"');
      assert.equal(r.get("connection"), "keep-alive");
      w.write(get(`/after-${code}`));
      // Were any body bytes sent after the 204/304, this would not parse as the next response.
      assertEcho(await w.response(), `/after-${code}`);
    }
  } finally {
    w.destroy();
  }
});

test("6. a chunked backend answer is passed on chunked; the connection is reused", async () => {
  const w = await open();
  try {
    w.write(get("/chunked"));
    const r = await w.response();
    assert.equal(r.status, 200);
    assert.equal(r.chunked, true);
    assert.equal(r.get("content-length"), undefined);
    assert.equal(r.body.toString(), "first-second-third");
    assert.deepEqual(names(r), ["content-type", "date", "Connection", "Keep-Alive", "Transfer-Encoding"]);
    w.write(get("/after-chunked"));
    assertEcho(await w.response(), "/after-chunked");
  } finally {
    w.destroy();
  }
});

test("7. a backend answer delimited by its close reaches the client whole, re-framed chunked on a kept connection", async () => {
  const w = await open();
  try {
    w.write(get("/close-delimited"));
    const r = await w.response();
    assert.equal(r.status, 200);
    assert.equal(r.chunked, true);
    assert.equal(r.body.toString(), "body-until-close");
    // The backend sent no date: node's own "Date" (capitalised) is added.
    assert.deepEqual(names(r), ["content-type", "x-from", "Date", "Connection", "Keep-Alive", "Transfer-Encoding"]);
    assert.match(r.get("date") ?? "", HTTP_DATE);
    assert.equal(r.get("connection"), "keep-alive");
    w.write(get("/after-close-delimited"));
    assertEcho(await w.response(), "/after-close-delimited");
  } finally {
    w.destroy();
  }
});

test("8. Connection: close from the client: connection: close on the answer, then the gateway closes", async () => {
  const w = await open();
  try {
    w.write(get("/first"));
    assertEcho(await w.response(), "/first");
    w.write(get("/cc", "Connection: close\r\n"));
    const r = await w.response();
    assert.equal(r.status, 200);
    assert.equal(r.json().path, "/cc");
    assert.deepEqual(names(r), ["content-type", "date", "Connection", "Transfer-Encoding"]);
    assert.equal(r.get("connection"), "close");
    assert.equal(await w.closesWithin(2000), true);
    assert.equal(w.pending(), "");
  } finally {
    w.destroy();
  }
  // With a content-length answer, too.
  const w2 = await open();
  try {
    w2.write(get("/two-cookies", "connection: close\r\n"));
    const r = await w2.response();
    assert.deepEqual(names(r), ["content-type", "set-cookie", "set-cookie", "content-length", "date", "Connection"]);
    assert.equal(r.get("connection"), "close");
    assert.equal(r.body.toString(), "ok");
    assert.equal(await w2.closesWithin(2000), true);
  } finally {
    w2.destroy();
  }
});

test("8b. a request pipelined after Connection: close is never forwarded, and the connection closes", async () => {
  // Today node:http's parser refuses bytes after a `Connection: close` request: it answers
  // "400 Bad Request" and closes, and the 200 of the first request (which did reach the backend) is
  // lost. Only the parts that are sound are pinned here: the second request never reaches the backend
  // and the connection closes.
  const w = await open();
  try {
    w.write(get("/ccp/1", "Connection: close\r\n") + get("/ccp/2"));
    assert.equal(await w.closesWithin(3000), true);
    await sleep(50);
    assert.equal(seen("/ccp/2"), 0);
    assert.match(w.pending(), /^HTTP\/1\.1 (200|400) /);
  } finally {
    w.destroy();
  }
});

test("9. HTTP/1.0: answered and closed without keep-alive; kept open with keep-alive when the length is known", async () => {
  // HTTP/1.0 without keep-alive: an HTTP/1.1 status line, connection: close, the body ends with the
  // close (a chunked backend answer is not re-framed for a 1.0 client).
  const w = await open();
  try {
    w.write("GET /h10 HTTP/1.0\r\nHost: app.example\r\n\r\n");
    const r = await w.response({ ms: 3000 });
    assert.equal(r.version, "HTTP/1.1");
    assert.equal(r.status, 200);
    assert.equal(r.byClose, true);
    assert.deepEqual(names(r), ["content-type", "date", "Connection"]);
    assert.equal(r.get("connection"), "close");
    // The backend is spoken to in HTTP/1.1.
    assert.equal(r.json().proto, "HTTP/1.1");
  } finally {
    w.destroy();
  }
  // keep-alive, but the backend's answer has no length: node cannot frame it for 1.0, so it closes.
  const w2 = await open();
  try {
    w2.write("GET /h10ka HTTP/1.0\r\nHost: app.example\r\nConnection: keep-alive\r\n\r\n");
    const r = await w2.response({ ms: 3000 });
    assert.equal(r.byClose, true);
    assert.equal(r.get("connection"), "close");
    assert.equal(r.json().path, "/h10ka");
  } finally {
    w2.destroy();
  }
  // keep-alive with a content-length answer: kept open (connection: keep-alive, no Keep-Alive header).
  const w3 = await open();
  try {
    w3.write("GET /two-cookies HTTP/1.0\r\nHost: app.example\r\nConnection: keep-alive\r\n\r\n");
    const r = await w3.response();
    assert.deepEqual(names(r), ["content-type", "set-cookie", "set-cookie", "content-length", "date", "Connection", "Keep-Alive"]);
    assert.equal(r.get("connection"), "keep-alive");
    assert.equal(r.get("keep-alive"), "timeout=65");
    assert.equal(r.body.toString(), "ok");
    assert.equal(await w3.closesWithin(200), false);
    w3.write("GET /two-cookies HTTP/1.0\r\nHost: app.example\r\n\r\n");
    const r2 = await w3.response();
    assert.equal(r2.get("connection"), "close");
    assert.equal(await w3.closesWithin(2000), true);
  } finally {
    w3.destroy();
  }
  // HTTP/1.0 without Host, and an HTTP/0.9-style line without a version: accepted and forwarded
  // with the backend endpoint's address as the host (and no x-forwarded-host).
  for (const [label, line] of [["1.0 no host", "GET /h10-nohost HTTP/1.0\r\n\r\n"], ["no version", "GET /\r\n\r\n"]] as const) {
    const w4 = await open();
    try {
      const before = echo.requests.length;
      w4.write(line);
      const r = await w4.response({ ms: 3000 });
      assert.equal(r.status, 200, label);
      assert.equal(r.byClose, true, label);
      const e = r.json();
      assert.equal(e.host, `127.0.0.1:${echo.port}`, label);
      assert.equal(e.headers["x-forwarded-host"], undefined, label);
      assert.equal(echo.requests.length, before + 1, label);
    } finally {
      w4.destroy();
    }
  }
});

test("10. GET, POST with content-length, POST chunked, GET on one connection: the bodies arrive", async () => {
  const w = await open();
  try {
    w.write(get("/mix/1"));
    const g = assertEcho(await w.response(), "/mix/1");
    // What the backend sees for a plain GET, in order.
    assert.deepEqual(Object.keys(g.headers), ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
    assert.deepEqual(g.headers["x-forwarded-for"], ["127.0.0.1"]);
    const body = "x".repeat(3000);
    w.write(`POST /mix/2 HTTP/1.1\r\nHost: app.example\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const p1 = assertEcho(await w.response(), "/mix/2", "POST");
    assert.equal(p1.body, body);
    assert.deepEqual(p1.headers["content-length"], ["3000"]);
    assert.deepEqual(p1.headers["content-type"], ["text/plain"]);
    w.write("POST /mix/3 HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
    const p2 = assertEcho(await w.response(), "/mix/3", "POST");
    assert.equal(p2.body, "hello world");
    // Today the chunked request body reaches the backend with a content-length, not chunked.
    assert.equal(p2.headers["transfer-encoding"], undefined);
    assert.deepEqual(p2.headers["content-length"], ["11"]);
    w.write(get("/mix/4"));
    assert.equal(assertEcho(await w.response(), "/mix/4").body, "");
    assert.equal(await w.closesWithin(100), false);
  } finally {
    w.destroy();
  }
});

test("11. GET, then Expect: 100-continue: 100 Continue first, then the answer; the connection is reused", async () => {
  const w = await open();
  try {
    w.write(get("/exp/0"));
    assertEcho(await w.response(), "/exp/0");
    w.write("POST /exp/1 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    const c = await w.response();
    assert.equal(c.status, 100);
    assert.equal(c.reason, "Continue");
    assert.deepEqual(c.lines, []);
    assert.equal(w.pending(), "", "nothing but the 100 before the body was sent");
    w.write("hello");
    const r = assertEcho(await w.response(), "/exp/1", "POST");
    assert.equal(r.body, "hello");
    assert.equal(r.headers["expect"], undefined);
    w.write(get("/exp/2"));
    assertEcho(await w.response(), "/exp/2");
  } finally {
    w.destroy();
  }
});

/** A masked WebSocket text frame (client to server), payload under 126 bytes. */
function wsFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

test("12. GET, then a WebSocket upgrade on the same connection: 101, and a frame is echoed", async () => {
  const w = await open();
  try {
    w.write(get("/ws/0"));
    assertEcho(await w.response(), "/ws/0");
    w.write(
      "GET /ws/chat HTTP/1.1\r\nHost: app.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    const r = await w.response();
    assert.equal(r.status, 101);
    assert.equal(r.get("upgrade")?.toLowerCase(), "websocket");
    assert.equal(r.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(echo.requests.at(-1)?.path, "/ws/chat");
    w.write(wsFrame("hi there"));
    // Server frames are unmasked: 0x81, length, payload.
    const want = "e1: hi there";
    const deadline = Date.now() + 3000;
    while (w.pending().length < 2 + want.length && Date.now() < deadline) await sleep(10);
    const frame = Buffer.from(w.pending(), "latin1");
    assert.equal(frame[0], 0x81);
    assert.equal(frame[1], want.length);
    assert.equal(frame.subarray(2).toString(), want);
  } finally {
    w.destroy();
  }
});

/** node:http's answer to a request its parser refuses, byte for byte. */
const PARSE_400 = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

test("13. malformed requests: 400 and close, never forwarded", async () => {
  const H = "Host: app.example\r\n";
  const cases: [string, string][] = [
    ["bad request line", `GET /bad/line b HTTP/1.1\r\n${H}\r\n`],
    ["space before colon", `GET /bad/space HTTP/1.1\r\n${H}x-a : 1\r\n\r\n`],
    ["bare LF line endings", "GET /bad/lf HTTP/1.1\nHost: app.example\n\n"],
    ["one bare LF", `GET /bad/lf1 HTTP/1.1\r\nHost: app.example\nx-a: 1\r\n\r\n`],
    ["obs-fold", `GET /bad/fold HTTP/1.1\r\n${H}x-a: 1\r\n  2\r\n\r\n`],
    ["content-length and transfer-encoding", `POST /bad/clte HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
    ["two different content-lengths", `POST /bad/twocl HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`],
    ["two equal content-lengths", `POST /bad/samecl HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`],
    ["negative content-length", `POST /bad/clneg HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`],
    ["signed content-length", `POST /bad/clplus HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`],
    ["transfer-encoding identity", `POST /bad/teid HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`],
    ["bad chunk size", `POST /bad/chunk HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`],
    ["control character in a value", `GET /bad/ctl HTTP/1.1\r\n${H}x-a: a\x01b\r\n\r\n`],
    ["lowercase method", `get /bad/lower HTTP/1.1\r\n${H}\r\n`],
    ["HTTP/1.2", `GET /bad/v12 HTTP/1.2\r\n${H}\r\n`],
  ];
  for (const [label, bytes] of cases) {
    const w = await open();
    try {
      w.write(bytes);
      assert.equal(await w.closesWithin(3000), true, `${label}: not closed; got ${JSON.stringify(w.pending())}`);
      assert.equal(w.pending(), PARSE_400, label);
    } finally {
      w.destroy();
    }
  }
  // After a good request on the same connection: the good one is answered, then the 400.
  const w = await open();
  try {
    w.write(get("/bad/ok"));
    assertEcho(await w.response(), "/bad/ok");
    w.write(`GET /bad/after b HTTP/1.1\r\n${H}\r\n`);
    assert.equal(await w.closesWithin(3000), true);
    assert.equal(w.pending(), PARSE_400);
  } finally {
    w.destroy();
  }
  // Missing Host on HTTP/1.1: node's own 400, with a date and an empty chunked body.
  const w2 = await open();
  try {
    w2.write("GET /bad/nohost HTTP/1.1\r\n\r\n");
    const r = await w2.response();
    assert.equal(r.status, 400);
    assert.deepEqual(names(r), ["Connection", "Date", "Transfer-Encoding"]);
    assert.equal(r.get("connection"), "close");
    assert.equal(r.chunked, true);
    assert.equal(r.body.length, 0);
    assert.equal(await w2.closesWithin(2000), true);
  } finally {
    w2.destroy();
  }
  // CONNECT: the HTTP/1.1 side has no handler for it; the connection is closed without an answer.
  const w3 = await open();
  try {
    w3.write("CONNECT app.example:443 HTTP/1.1\r\nHost: app.example:443\r\n\r\n");
    assert.equal(await w3.closesWithin(3000), true);
    assert.equal(w3.pending(), "");
  } finally {
    w3.destroy();
  }
  // "HTTP/2.0" in an HTTP/1.1 request line: today the request reaches the handler as an HTTP/2
  // request and fails there with a 500 "internal error" (a bug: 505 or 400 would be right). Pinned:
  // it is refused, closed and not forwarded; the exact status is left open.
  const w4 = await open();
  try {
    w4.write(`GET /bad/v20 HTTP/2.0\r\n${H}\r\n`);
    assert.equal(await w4.closesWithin(3000), true);
    assert.match(w4.pending(), /^HTTP\/1\.1 (400|500|505) /);
  } finally {
    w4.destroy();
  }
  await sleep(50);
  assert.equal(seen("/bad/"), 1, `only /bad/ok reached the backend: ${JSON.stringify(echo.requests.filter((q) => q.path.startsWith("/bad/")).map((q) => q.path))}`);
  assert.equal(echo.requests.some((q) => q.method === "CONNECT"), false);
});

test("14. limits on a used keep-alive connection: 414 keeps it open, 431 closes it", async () => {
  // The limits themselves are covered by request-limits.test.ts; here, what they do to a connection.
  const w = await open();
  try {
    w.write(get("/lim/0"));
    assertEcho(await w.response(), "/lim/0");
    w.write(get(`/lim/long?q=${"x".repeat(17 * 1024)}`));
    const r = await w.response();
    assert.equal(r.status, 414);
    assert.equal(r.reason, "URI Too Long");
    assert.deepEqual(names(r), ["content-type", "content-length", "Date", "Connection", "Keep-Alive"]);
    assert.equal(r.get("connection"), "keep-alive");
    assert.equal(r.body.toString(), "request URI too long\n");
    w.write(get("/lim/1"));
    assertEcho(await w.response(), "/lim/1");
    // Too many header fields: the gateway's 431, with a body; the connection stays usable.
    let many = "";
    for (let i = 0; i < 101; i++) many += `x-t${i}: v\r\n`;
    w.write(get("/lim/many", many));
    const m = await w.response();
    assert.equal(m.status, 431);
    assert.match(m.body.toString(), /too many header fields/);
    assert.deepEqual(names(m), ["content-type", "content-length", "Date", "Connection", "Keep-Alive"]);
    assert.equal(m.get("connection"), "keep-alive");
    w.write(get("/lim/2"));
    assertEcho(await w.response(), "/lim/2");
    // A head over the size limit: node's bare 431, then close.
    w.write(get("/lim/big", `x-big: ${"a".repeat(61 * 1024)}\r\n`));
    assert.equal(await w.closesWithin(3000), true);
    assert.equal(w.pending(), "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n");
  } finally {
    w.destroy();
  }
  assert.equal(seen("/lim/long") + seen("/lim/many") + seen("/lim/big"), 0);
});

test("15. the client leaves while the backend works: the backend's request is closed; others are served", async () => {
  const w = await open();
  const t0 = Date.now();
  w.write(get("/slow/leave"));
  // Wait until the backend has it, then go.
  const deadline = Date.now() + 3000;
  while (seen("/slow/leave") === 0 && Date.now() < deadline) await sleep(10);
  assert.equal(seen("/slow/leave"), 1);
  w.destroy();
  while (!abandoned.includes("/slow/leave") && Date.now() - t0 < 3000) await sleep(10);
  // Recorded only when the backend's response closed before its answer (due 500 ms after it arrived) was written.
  assert.ok(abandoned.includes("/slow/leave"), "the backend's request was closed before it answered");
  // Meanwhile and after, other connections are served; a slow request that is waited for completes.
  const w2 = await open();
  try {
    w2.write(get("/slow/stay"));
    const r = await w2.response();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "late");
    w2.write(get("/after-leave"));
    assertEcho(await w2.response(), "/after-leave");
    assert.equal(abandoned.includes("/slow/stay"), false);
  } finally {
    w2.destroy();
  }
});

test("16. repeated request headers reach the backend as separate fields, in order", async () => {
  const w = await open();
  try {
    w.write(get("/dup", "x-a: 1\r\nX-A: 2\r\nCookie: a=1\r\nCookie: b=2\r\nAccept: x\r\nAccept: y\r\n"));
    const e = assertEcho(await w.response(), "/dup");
    assert.deepEqual(e.headers["x-a"], ["1", "2"]);
    assert.deepEqual(e.headers["cookie"], ["a=1", "b=2"]);
    assert.deepEqual(e.headers["accept"], ["x", "y"]);
    assert.deepEqual(Object.keys(e.headers), ["host", "x-a", "cookie", "accept", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
    // Two Host fields: node:http accepts them (RFC 9112 says 400); the first one is the host, and
    // both are passed on. Pinned so that a change here is a deliberate one.
    w.write("GET /dup-host HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
    const h = assertEcho(await w.response(), "/dup-host");
    assert.equal(h.host, "a.example");
    assert.deepEqual(h.headers["host"], ["a.example", "b.example"]);
    assert.deepEqual(h.headers["x-forwarded-host"], ["a.example"]);
    // Hop-by-hop fields, and those named in Connection, are not passed on; whitespace around values is trimmed.
    w.write(get("/hop", "Connection: x-secret\r\nx-secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: x\r\nx-t:\t v \t\r\n"));
    const hop = assertEcho(await w.response(), "/hop");
    assert.deepEqual(Object.keys(hop.headers), ["host", "x-t", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
    assert.deepEqual(hop.headers["x-t"], ["v"]);
    // An empty Host is accepted and passed on empty (no x-forwarded-host).
    w.write("GET /empty-host HTTP/1.1\r\nHost:\r\n\r\n");
    const eh = assertEcho(await w.response(), "/empty-host");
    assert.deepEqual(Object.keys(eh.headers), ["host", "x-forwarded-for", "x-forwarded-proto"]);
    assert.deepEqual(eh.headers["host"], [""]);
  } finally {
    w.destroy();
  }
});

test("17. absolute-form target and OPTIONS *: forwarded as they came", async () => {
  const w = await open();
  try {
    // The absolute-form target goes to the backend verbatim; Host stays the client's Host field.
    w.write("GET http://other.example/abs?q=1 HTTP/1.1\r\nHost: app.example\r\n\r\n");
    const a = assertEcho(await w.response(), "http://other.example/abs?q=1");
    assert.equal(a.host, "app.example");
    assert.deepEqual(a.headers["x-forwarded-host"], ["app.example"]);
    w.write("OPTIONS * HTTP/1.1\r\nHost: app.example\r\n\r\n");
    assertEcho(await w.response(), "*", "OPTIONS");
    w.write(get("/after-options"));
    assertEcho(await w.response(), "/after-options");
  } finally {
    w.destroy();
  }
});

test("18. a response header the backend sends twice reaches the client as two lines", async () => {
  const w = await open();
  try {
    w.write(get("/two-cookies"));
    const r = await w.response();
    assert.equal(r.status, 200);
    assert.deepEqual(r.all("set-cookie"), ["a=1; Path=/", "b=2; Path=/"]);
    assert.deepEqual(names(r), ["content-type", "set-cookie", "set-cookie", "content-length", "date", "Connection", "Keep-Alive"]);
    assert.equal(r.body.toString(), "ok");
  } finally {
    w.destroy();
  }
});

test("19. an idle keep-alive connection stays open for at least a second", async () => {
  const w = await open();
  try {
    w.write(get("/idle/1"));
    assertEcho(await w.response(), "/idle/1");
    assert.equal(await w.closesWithin(1100), false);
    w.write(get("/idle/2"));
    assertEcho(await w.response(), "/idle/2");
  } finally {
    w.destroy();
  }
});

test("20. the header set of a plain proxied GET", async () => {
  const w = await open();
  try {
    w.write(get("/plain"));
    const r = await w.response();
    assert.equal(r.version, "HTTP/1.1");
    assert.equal(r.status, 200);
    assert.equal(r.reason, "OK");
    // The backend's own fields first (names as it sent them), then node's hop-by-hop fields.
    assert.deepEqual(r.lines.map(([k, v]) => (k === "date" ? [k, HTTP_DATE.test(v)] : [k, v])), [
      ["content-type", "application/json"],
      ["date", true],
      ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=65"],
      ["Transfer-Encoding", "chunked"],
    ]);
    // The body is the backend's, in one piece.
    assert.equal(r.json().pod, "e1");
  } finally {
    w.destroy();
  }
});

test("an Upgrade the backend refuses: its answer is passed on as is, then the connection closes", async () => {
  const w = await open();
  try {
    w.write("GET /h2c-up HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
    const r = await w.response();
    // The echo backend's WebSocket library refuses anything but websocket.
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), "Invalid Upgrade header");
    assert.equal(await w.closesWithin(2000), true);
    const rec = echo.requests.find((q) => q.path === "/h2c-up");
    assert.deepEqual(rec?.headers["upgrade"], ["h2c"]);
    assert.equal(rec?.headers["http2-settings"], undefined);
  } finally {
    w.destroy();
  }
});

test("a GET with a content-length body: the body is forwarded and the next request is read after it", async () => {
  const w = await open();
  try {
    w.write(`GET /get-body HTTP/1.1\r\nHost: app.example\r\nContent-Length: 3\r\n\r\nabc${get("/after-get-body")}`);
    assert.equal(assertEcho(await w.response(), "/get-body").body, "abc");
    assertEcho(await w.response(), "/after-get-body");
  } finally {
    w.destroy();
  }
});

test("the backend's view: header names, their case and order, and the target byte for byte", async () => {
  const w = await open();
  try {
    const target = "/raw-headers/a%2Fb/../c;p?x=%41&y=%zz&z=a+b";
    w.write(`GET ${target} HTTP/1.1\r\nHost: App.Example:80\r\nX-Mixed-Case: V1\r\nuser-agent: t/1\r\nAccept-Encoding: gzip\r\n\r\n`);
    const r = await w.response();
    assert.equal(r.status, 200);
    const seenBy = r.json<{ url: string; rawHeaders: string[] }>();
    assert.equal(seenBy.url, target);
    assert.deepEqual(seenBy.rawHeaders, [
      "host", "App.Example:80",
      "x-mixed-case", "V1",
      "user-agent", "t/1",
      "accept-encoding", "gzip",
      "x-forwarded-for", "127.0.0.1",
      "x-forwarded-proto", "http",
      "x-forwarded-host", "App.Example:80",
    ]);
  } finally {
    w.destroy();
  }
});

test("a 1 MiB response and a 1 MiB request body on one connection, then a small request", async () => {
  const w = await open();
  try {
    w.write(get("/big-response", "x-echo-body-bytes: 1048576\r\n"));
    const r = await w.response({ ms: 10_000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1048576);
    assert.equal(r.body.every((b) => b === 0x78), true);
    const body = Buffer.alloc(1048576, "b");
    w.write(`POST /big-request HTTP/1.1\r\nHost: app.example\r\nContent-Length: ${body.length}\r\n\r\n`);
    w.write(body);
    const e = assertEcho(await w.response({ ms: 10_000 }), "/big-request", "POST");
    assert.equal(e.body.length, body.length);
    w.write(get("/after-big"));
    assertEcho(await w.response(), "/after-big");
  } finally {
    w.destroy();
  }
});
