// The ClientHello reader against real ClientHellos captured from node:tls, whole, cut at every
// byte, and re-framed into many small TLS records.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { readClientHelloSni } from "../../../src/l4/sni.js";
import { BackendPicker, unitHash } from "../../../src/l4/pick.js";

/** The first bytes a TLS client sends, captured by a plain TCP server. */
async function captureHello(servername: string | undefined): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once("connection", (s) => {
        let buf = Buffer.alloc(0);
        s.on("data", (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          // Record header says how long the first record is; ClientHellos from node fit in one.
          if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
            resolve(buf);
            s.destroy();
          }
        });
      });
    });
    const c = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
    c.on("error", () => {});
    const hello = await got;
    c.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** Re-frames the handshake bytes of one record into records of at most `size` bytes. */
function reframe(record: Buffer, size: number): Buffer {
  const body = record.subarray(5);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const h = Buffer.from([22, 3, 1, 0, 0]);
    h.writeUInt16BE(part.length, 3);
    out.push(h, part);
  }
  return Buffer.concat(out);
}

test("reads the SNI of a real ClientHello", async () => {
  const hello = await captureHello("API.Example.com");
  assert.deepEqual(readClientHelloSni(hello), { state: "done", serverName: "api.example.com" });
});

test("asks for more on every prefix and answers once complete", async () => {
  const hello = await captureHello("a.example.com");
  for (let n = 0; n < hello.length; n++) assert.equal(readClientHelloSni(hello.subarray(0, n)).state, "more", `prefix ${n}`);
  assert.deepEqual(readClientHelloSni(hello), { state: "done", serverName: "a.example.com" });
  // Bytes after the ClientHello (the client may pipeline) do not matter.
  assert.deepEqual(readClientHelloSni(Buffer.concat([hello, Buffer.from("junk")])), { state: "done", serverName: "a.example.com" });
});

test("reassembles a ClientHello split over many records", async () => {
  const hello = await captureHello("split.example.com");
  for (const size of [1, 3, 7, 64]) {
    const framed = reframe(hello, size);
    assert.deepEqual(readClientHelloSni(framed), { state: "done", serverName: "split.example.com" }, `records of ${size}`);
    assert.equal(readClientHelloSni(framed.subarray(0, framed.length - 1)).state, "more");
  }
});

test("no SNI (client connecting by IP) is done with null", async () => {
  const hello = await captureHello(undefined);
  assert.deepEqual(readClientHelloSni(hello), { state: "done", serverName: null });
});

test("non-TLS bytes and oversized records are invalid", () => {
  assert.equal(readClientHelloSni(Buffer.from("GET / HTTP/1.1\r\n\r\n")).state, "invalid");
  assert.equal(readClientHelloSni(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).state, "invalid"); // ServerHello
  const huge = Buffer.from([22, 3, 1, 0xff, 0xff, 1, 0xff, 0xff, 0xff]);
  assert.equal(readClientHelloSni(huge).state, "invalid");
});

test("weighted picker follows weights and refuses unresolved shares", () => {
  const p = new BackendPicker([
    { name: "a", weight: 3, endpoints: [{ address: "127.0.0.1", port: 1, weight: 1 }] },
    { name: null, weight: 1, endpoints: [] },
  ]);
  const counts = { a: 0, refused: 0 };
  for (let i = 0; i < 1000; i++) {
    const r = p.pick(i / 1000, 0.5);
    if (r) counts.a++;
    else counts.refused++;
  }
  assert.equal(counts.a, 750);
  assert.equal(counts.refused, 250);
  assert.equal(new BackendPicker([]).pick(), null);
  assert.equal(unitHash("1.2.3.4|5"), unitHash("1.2.3.4|5"));
  assert.notEqual(unitHash("1.2.3.4|5"), unitHash("1.2.3.4|6"));
});
