import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { HAND_OVER, NEED_MORE, parseRequestHead, type RequestHead } from "../../../src/proxy/h1/request-head.js";

const parse = (text: string, maxBytes = 16384, maxFields = 2000): ReturnType<typeof parseRequestHead> =>
  parseRequestHead(Buffer.from(text, "latin1"), maxBytes, maxFields);

function parsed(text: string): RequestHead {
  const r = parse(text);
  assert.ok(typeof r === "object", `expected a parsed head for ${JSON.stringify(text)}, got ${r}`);
  return r;
}

test("a simple GET: method, target, fields as sent and lowercased, keep-alive, length", () => {
  const text = "GET /a/b?x=1 HTTP/1.1\r\nHost: app.example\r\nX-Mixed-Case:  v a l \t\r\nAccept: */*\r\n\r\n";
  const h = parsed(`${text}GET /next HTTP/1.1\r\n`);
  assert.equal(h.method, "GET");
  assert.equal(h.url, "/a/b?x=1");
  assert.deepEqual(h.rawHeaders, ["Host", "app.example", "X-Mixed-Case", "v a l", "Accept", "*/*"]);
  assert.deepEqual({ ...h.headers }, { host: "app.example", "x-mixed-case": "v a l", accept: "*/*" });
  assert.equal(h.keepAlive, true);
  assert.equal(h.length, Buffer.byteLength(text));
});

test("Connection: close ends keep-alive; other tokens do not", () => {
  assert.equal(parsed("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(parsed("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n").keepAlive, false);
  assert.equal(parsed("GET / HTTP/1.1\r\nHost: a\r\nConnection: x-close-later\r\n\r\n").keepAlive, true);
  assert.equal(parsed("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").keepAlive, true);
});

test("an incomplete head needs more bytes, up to the size limit", () => {
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n"), NEED_MORE);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", 10), HAND_OVER);
  assert.equal(parse(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"y".repeat(100)}\r\n\r\n`, 64), HAND_OVER);
});

test("what the fast path leaves to node:http", () => {
  const cases: [string, string][] = [
    ["lowercase method", "get / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["unknown method", "FETCH / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n"],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"],
    ["no version", "GET /\r\nHost: a\r\n\r\n"],
    ["absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["asterisk form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["non-ASCII target", "GET /\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["DEL in target", "GET /\u007f HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"],
    ["bare LF", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"],
    ["bare CR", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n"],
    ["control byte in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\u0001\r\n\r\n"],
    ["NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\u0000\r\n\r\n"],
    ["line without colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n"],
    ["a body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"],
    ["a signed length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +0\r\n\r\n"],
    ["a chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"],
    ["Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"],
    ["Connection: upgrade alone", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade\r\n\r\n"],
    ["Expect", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"],
    ["HTTP2-Settings", "GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"],
    ["a repeated field", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n"],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
    ["__proto__", "GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\n\r\n"],
    ["a field named like an Object method", "GET / HTTP/1.1\r\nHost: a\r\nconstructor: x\r\n\r\n"],
    ["no Host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n"],
    ["empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"],
  ];
  for (const [what, text] of cases) assert.equal(parse(text), HAND_OVER, what);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX-1: 1\r\nX-2: 2\r\n\r\n", 16384, 2), HAND_OVER, "too many fields");
  assert.equal(typeof parse("GET / HTTP/1.1\r\nHost: a\r\nX-1: 1\r\n\r\n", 16384, 2), "object", "fields within the limit");
});

/** What node's own HTTP/1.1 server makes of `text`: the request it saw, or null when it refused it. */
async function nodeParse(port: number, text: string): Promise<{ method: string; url: string; rawHeaders: string[] } | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => sock.destroy(), 2000);
    sock.on("data", (d) => (out += d.toString("latin1")));
    sock.on("close", () => {
      clearTimeout(timer);
      // In a field, not the body: HEAD answers have none.
      const m = /^HTTP\/1\.1 200 OK\r\n[\s\S]*?x-parsed: ([A-Za-z0-9+/=]+)\r\n/.exec(out);
      resolve(m ? (JSON.parse(Buffer.from(m[1]!, "base64").toString("latin1")) as { method: string; url: string; rawHeaders: string[] }) : null);
    });
    sock.on("error", () => {});
    sock.end(Buffer.from(text, "latin1"));
  });
}

test("whatever the fast path parses, node's parser parses the same way (generated heads)", async () => {
  const server = http.createServer((req, res) => {
    res.setHeader("connection", "close");
    res.setHeader("x-parsed", Buffer.from(JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders }), "latin1").toString("base64"));
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    // Deterministic pseudo-random heads from pieces that are each valid, odd or invalid.
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    const methods = ["GET", "HEAD", "DELETE", "OPTIONS", "get", "GE T", "PATCH", "PURGE"];
    const targets = ["/", "/a?b=c&d", "/%20x", "/a#frag", "/~user/!$&'()*+,;=:@", "/é", "/a\tb", "//x", "/\u0001"];
    const versions = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "http/1.1", "HTTP/1.1 "];
    const names = ["Host", "host", "X-A", "Accept", "Cookie", "Content-Length", "x_b", "X A", "X-A ", "Téé", "Connection"];
    const values = ["a", "", " padded ", "tab\there", "x\u0080y", "é", "close", "0", "5", "a\u0001b", "a\u007fb", "keep-alive"];
    let fastParsed = 0;
    for (let i = 0; i < 240; i++) {
      let text = `${methods[rnd(methods.length)]} ${targets[rnd(targets.length)]} ${versions[rnd(versions.length)]}\r\n`;
      if (rnd(8) !== 0) text += "Host: app.example\r\n";
      const n = rnd(4);
      for (let k = 0; k < n; k++) text += `${names[rnd(names.length)]}:${rnd(2) === 0 ? " " : ""}${values[rnd(values.length)]}\r\n`;
      text += "\r\n";
      const ours = parse(text);
      if (typeof ours !== "object") continue;
      fastParsed++;
      const theirs = await nodeParse(port, text);
      assert.ok(theirs !== null, `node refused what the fast path took: ${JSON.stringify(text)}`);
      assert.equal(theirs.method, ours.method, JSON.stringify(text));
      assert.equal(theirs.url, ours.url, JSON.stringify(text));
      assert.deepEqual(theirs.rawHeaders, ours.rawHeaders, JSON.stringify(text));
    }
    // The generator must reach the interesting side too, or this test shows nothing.
    assert.ok(fastParsed >= 20, `only ${fastParsed} generated heads were parsed`);
  } finally {
    server.close();
  }
});
