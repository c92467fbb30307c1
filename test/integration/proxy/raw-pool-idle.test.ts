// The raw upstream pool closes connections that stay idle past its idle timeout, and reuses the
// ones that do not.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { H1Pool, type H1Handler } from "../../../src/proxy/upstream/h1-pool.js";

function get(pool: H1Pool): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    const h: H1Handler = {
      onHeaders: () => true,
      onData: (c) => ((body += c.toString()), true),
      onComplete: () => resolve(body),
      onError: reject,
    };
    pool.request(h, "GET", "/", ["host", "x"]);
  });
}

test("idle connections are reused, then closed after the idle timeout", async () => {
  let opened = 0;
  let closed = 0;
  const server = net.createServer((s) => {
    opened++;
    s.on("close", () => closed++);
    s.on("data", () => s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const pool = new H1Pool({ host: "127.0.0.1", port, socketPath: null, label: `127.0.0.1:${port}` }, 4, 150, 20);
  try {
    assert.equal(await get(pool), "ok");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await get(pool), "ok");
    assert.equal(opened, 1, "the idle connection was reused");
    const deadline = Date.now() + 2_000;
    while (closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(closed, 1, "the idle connection was closed by the sweep");
    assert.equal(await get(pool), "ok");
    assert.equal(opened, 2);
  } finally {
    pool.destroy();
    await new Promise((r) => server.close(r));
  }
});

test("a busy connection whose upstream stays silent fails with a timeout; a slow but live one does not", async () => {
  const server = net.createServer((s) => {
    s.on("data", (d) => {
      if (d.toString().startsWith("GET /silent")) return; // never answers
      // Dribbles a 6-byte body, one byte every 40 ms: slower than the stall bound in total, never silent for long.
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
      let n = 0;
      const t = setInterval(() => {
        s.write("x");
        if (++n === 6) clearInterval(t);
      }, 40);
      s.on("close", () => clearInterval(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  // idle 10 s, sweep every 20 ms, stall bound 150 ms
  const pool = new H1Pool({ host: "127.0.0.1", port, socketPath: null, label: `127.0.0.1:${port}` }, 4, 10_000, 20, 150);
  const ask = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let body = "";
      pool.request({ onHeaders: () => true, onData: (c) => ((body += c.toString()), true), onComplete: () => resolve(body), onError: reject }, "GET", path, ["host", "x"]);
    });
  try {
    const started = Date.now();
    await assert.rejects(ask("/silent"), (err: Error) => err.constructor.name === "UpstreamTimeoutError" && /sent nothing/.test(err.message));
    const took = Date.now() - started;
    assert.ok(took >= 140 && took < 2_000, `failed after ${took} ms`);
    assert.equal(await ask("/slow"), "xxxxxx");
  } finally {
    pool.destroy();
    await new Promise((r) => server.close(r));
  }
});
