import { test } from "node:test";
import assert from "node:assert/strict";
import { ResponseParser } from "../../../src/proxy/upstream/h1-response-parser.js";

function collect(isHead = false) {
  const out = { status: 0, headers: [] as string[], heads: 0, body: "", pauses: 0 };
  let pause = false;
  const p = new ResponseParser({
    onHead(status, headers) {
      out.status = status;
      out.headers = headers;
      out.heads++;
    },
    onBody(chunk) {
      out.body += chunk.toString("latin1");
      if (pause) out.pauses++;
      return !pause;
    },
  });
  p.reset(isHead);
  return { p, out, setPause: (v: boolean) => (pause = v) };
}

/** Feeds the text in pieces of `step` bytes; returns whether the response completed. */
function feed(p: ResponseParser, text: string, step: number): void {
  const b = Buffer.from(text, "latin1");
  for (let i = 0; i < b.length && !p.done; i += step) p.execute(b.subarray(i, i + step));
}

test("content-length body split over reads at every size, hop-by-hop headers dropped", () => {
  const resp = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: keep-alive\r\nX-A: b \r\nKeep-Alive: timeout=5\r\n\r\nhello world";
  for (let step = 1; step <= resp.length; step++) {
    const { p, out } = collect();
    feed(p, resp, step);
    assert.equal(p.done, true, `step ${step}`);
    assert.equal(out.status, 200);
    assert.deepEqual(out.headers, ["content-length", "11", "x-a", "b"]);
    assert.equal(out.body, "hello world");
    assert.equal(p.keepAlive, true);
  }
});

test("chunked body is decoded (extensions, trailers), framing headers dropped, at every split", () => {
  const resp = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (let step = 1; step <= resp.length; step++) {
    const { p, out } = collect();
    feed(p, resp, step);
    assert.equal(p.done, true, `step ${step}`);
    assert.equal(out.status, 201);
    assert.deepEqual(out.headers, []);
    assert.equal(out.body, "hello world");
    assert.equal(p.keepAlive, true);
  }
});

test("no body for HEAD, 204 and 304 even with a content-length", () => {
  const head = collect(true);
  head.p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
  assert.equal(head.p.done, true);
  assert.deepEqual(head.out.headers, ["content-length", "100"]);
  for (const s of [204, 304]) {
    const c = collect();
    c.p.execute(Buffer.from(`HTTP/1.1 ${s} X\r\nContent-Length: 5\r\n\r\n`));
    assert.equal(c.p.done, true);
    assert.equal(c.out.body, "");
  }
});

test("a body without length runs to the close and the connection is not reused", () => {
  const { p, out } = collect();
  p.execute(Buffer.from("HTTP/1.1 200 OK\r\n\r\npart1"));
  assert.equal(p.done, false);
  assert.equal(p.untilClose, true);
  p.execute(Buffer.from("part2"));
  assert.equal(p.end(), true);
  assert.equal(out.body, "part1part2");
  assert.equal(p.keepAlive, false);
});

test("a cut content-length body is not complete at the close", () => {
  const { p } = collect();
  p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  assert.equal(p.end(), false);
});

test("1xx interim responses are skipped", () => {
  const { p, out } = collect();
  p.execute(Buffer.from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  assert.equal(p.done, true);
  assert.equal(out.heads, 1);
  assert.equal(out.status, 200);
  assert.equal(out.body, "ok");
});

test("keep-alive: Connection: close and HTTP/1.0 end the connection; extra bytes are noticed", () => {
  const a = collect();
  a.p.execute(Buffer.from("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  assert.equal(a.p.done && !a.p.keepAlive, true);
  const b = collect();
  b.p.execute(Buffer.from("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  assert.equal(b.p.done && !b.p.keepAlive, true);
  const c = collect();
  c.p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n"));
  assert.equal(c.p.done, true);
  assert.equal(c.p.trailingBytes, true);
});

test("transfer-encoding wins over content-length, which is not forwarded", () => {
  const { p, out } = collect();
  p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"));
  assert.equal(p.done, true);
  assert.equal(out.body, "ok");
  assert.deepEqual(out.headers, []);
});

test("malformed responses throw", () => {
  for (const bad of [
    "HTTP/1.1 2000 OK\r\n\r\n",
    "SPDY/3 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
  ]) {
    const { p } = collect();
    assert.throws(() => p.execute(Buffer.from(bad)), Error, JSON.stringify(bad));
  }
});

test("a paused sink still gets every byte of the read, and the parser reports it", () => {
  const { p, out, setPause } = collect();
  setPause(true);
  assert.equal(p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")), false);
  setPause(false);
  assert.equal(p.execute(Buffer.from("def")), true);
  assert.equal(out.body, "abcdef");
  assert.equal(p.done, true);
});
