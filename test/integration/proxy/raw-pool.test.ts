// The raw keep-alive pool used for bodiless HTTP/1.1 requests, against a backend that writes its
// responses byte by byte as the test scripts them: reuse, framing, closes, back-pressure.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

/** What the backend answers for a path; it may write in pieces and close. */
type Script = (sock: net.Socket, req: string) => void;
const scripts = new Map<string, Script>();
let connections = 0;
let backend: net.Server;
let port: number;
let dp: ProxyDataPlane;

function respond(body: string, extra = ""): Script {
  return (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);
}

before(async () => {
  backend = net.createServer((sock) => {
    connections++;
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      let end: number;
      while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = head.split(" ")[1]!.split("?")[0]!;
        const script = scripts.get(path);
        if (script) script(sock, head);
        else sock.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      }
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", () => r()));
  const bport = (backend.address() as net.AddressInfo).port;
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  const rt = route({}, forward("raw"));
  await dp.apply(snapshot([listener(port, [gateway([rt])])], [{ name: "raw", protocol: "http1", endpoints: [{ address: "127.0.0.1", port: bport, weight: 1 }] }]));
});

after(async () => {
  await dp.close();
  agent.destroy();
  await new Promise((r) => backend.close(r));
});

test("sequential requests reuse one upstream connection; the request head is forwarded", async () => {
  let seen = "";
  scripts.set("/ka", (s, head) => {
    seen = head;
    respond("kept")(s, head);
  });
  const before = connections;
  for (let i = 0; i < 5; i++) {
    const r = await request(port, `/ka?i=${i}`, { headers: { "x-test": "v" } });
    assert.equal(r.status, 200);
    assert.equal(r.body, "kept");
  }
  assert.ok(connections - before <= 1, `opened ${connections - before} connections for 5 requests`);
  assert.match(seen, /^GET \/ka\?i=4 HTTP\/1\.1\r\n/);
  assert.match(seen, /\r\nx-test: v(\r\n|$)/);
  assert.match(seen, /\r\nhost: example\.com(\r\n|$)/);
  assert.match(seen, /\r\nx-forwarded-for: 127\.0\.0\.1(\r\n|$)/);
});

test("a chunked response written in pieces arrives whole", async () => {
  scripts.set("/chunked", (s) => {
    s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n4\r\nab");
    setTimeout(() => s.write("cd\r\n3\r\nefg\r"), 20);
    setTimeout(() => s.write("\n0\r\n\r\n"), 40);
  });
  const r = await request(port, "/chunked");
  assert.equal(r.status, 200);
  assert.equal(r.body, "abcdefg");
  assert.equal(r.headers["x-up"], "1");
});

test("a body delimited by the close, and Connection: close, are served and the connection is not reused", async () => {
  scripts.set("/eof", (s) => {
    s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil");
    setTimeout(() => s.end(" the end"), 20);
  });
  scripts.set("/close", respond("bye", "Connection: close\r\n"));
  scripts.set("/after", respond("fresh"));
  let r = await request(port, "/eof");
  assert.equal(r.body, "until the end");
  r = await request(port, "/close");
  assert.equal(r.body, "bye");
  const before = connections;
  r = await request(port, "/after");
  assert.equal(r.body, "fresh");
  assert.equal(connections - before, 1, "a new connection after Connection: close");
});

test("HEAD gets headers only and the connection stays usable", async () => {
  scripts.set("/head", (s) => s.write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"));
  scripts.set("/next", respond("next"));
  const r = await request(port, "/head", { method: "HEAD" });
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-length"], "1234");
  assert.equal(r.body, "");
  assert.equal((await request(port, "/next")).body, "next");
});

test("an upstream that closes before answering or mid-body: 503, then a cut response", async () => {
  scripts.set("/drop", (s) => s.destroy());
  scripts.set("/cut", (s) => {
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    setTimeout(() => s.destroy(), 20);
  });
  const r = await request(port, "/drop");
  assert.equal(r.status, 503);
  await assert.rejects(request(port, "/cut"));
  scripts.set("/ok", respond("ok"));
  assert.equal((await request(port, "/ok")).body, "ok");
});

test("an idle connection the upstream closed is not used again", async () => {
  scripts.set("/idle-close", (s) => {
    respond("first")(s, "");
    setTimeout(() => s.end(), 10);
  });
  scripts.set("/idle-next", respond("second"));
  assert.equal((await request(port, "/idle-close")).body, "first");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await request(port, "/idle-next")).body, "second");
});

test("a large body to a slow reader is delivered intact (back-pressure)", async () => {
  const size = 8 * 1024 * 1024;
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = i % 251;
  scripts.set("/big", (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    s.write(body);
  });
  const got = await new Promise<Buffer>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/big", headers: { host: "example.com" }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.pause();
      // Read slowly at first so the proxy has to stop reading the upstream.
      const t = setInterval(() => {
        const c = res.read() as Buffer | null;
        if (c) chunks.push(c);
      }, 5);
      setTimeout(() => {
        clearInterval(t);
        res.on("data", (c: Buffer) => chunks.push(c));
        res.resume();
      }, 300);
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  assert.equal(got.length, size);
  assert.ok(got.equals(body));
});
