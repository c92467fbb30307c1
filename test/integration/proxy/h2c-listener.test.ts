// A plain HTTP listener serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

let echo: EchoServer;
let port: number;
let dp: ProxyDataPlane;

before(async () => {
  echo = await startEchoServer({ pod: "e" });
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  const res = await dp.apply(
    snapshot(
      [
        listener(port, [
          gateway([
            route({ path: { type: "PathPrefix", value: "/redirect" } }, { type: "redirect", statusCode: 302, path: { type: "ReplaceFullPath", value: "/moved" } }),
            route({}, forward("echo"), { filters: { responseHeaders: { set: [{ name: "x-route", value: "r" }], add: [], remove: [] } } }),
          ]),
        ]),
      ],
      [cluster("echo", [echo])],
    ),
  );
  assert.ok(res.every((r) => r.ok), JSON.stringify(res));
});

after(async () => {
  agent.destroy();
  await dp.close();
  await echo.close();
});

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

function h2request(session: http2.ClientHttp2Session, path: string, opts: { method?: string; body?: string } = {}): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ":path": path, ":method": opts.method ?? "GET", ":authority": "example.com" }, { endStream: opts.body === undefined });
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    st.on("response", (h) => (headers = h));
    st.on("data", (c: Buffer) => chunks.push(c));
    st.on("end", () => resolve({ status: Number(headers[":status"]), headers, body: Buffer.concat(chunks).toString() }));
    st.on("error", reject);
    st.setTimeout(5000, () => st.close(http2.constants.NGHTTP2_CANCEL));
    if (opts.body !== undefined) st.end(opts.body);
  });
}

function connectH2(createConnection?: () => net.Socket): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`, createConnection ? { createConnection } : {});
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

test("h2c prior knowledge and HTTP/1.1 on the same plain port, same handling", async () => {
  const session = await connectH2();
  try {
    // Several streams on one session: proxied, gateway-made redirect, request body.
    const [a, b, c] = await Promise.all([
      h2request(session, "/a?q=1"),
      h2request(session, "/redirect/x"),
      h2request(session, "/post", { method: "POST", body: "hello over h2c" }),
    ]);
    assert.equal(a.status, 200);
    const ea = JSON.parse(a.body) as EchoResponse;
    assert.equal(ea.path, "/a?q=1");
    assert.equal(ea.host, "example.com");
    assert.deepEqual(ea.headers["x-forwarded-proto"], ["http"]);
    assert.equal(a.headers["x-route"], "r");
    assert.equal(b.status, 302);
    assert.equal(b.headers.location, `http://example.com:${port}/moved`);
    assert.equal((JSON.parse(c.body) as EchoResponse).body, "hello over h2c");
  } finally {
    session.close();
  }
  // HTTP/1.1 on the same port, including a method that starts like the preface ("P").
  const h1 = await request(port, "/h1");
  assert.equal(h1.status, 200);
  assert.equal(h1.json<EchoResponse>().path, "/h1");
  assert.equal(h1.headers["x-route"], "r");
  const put = await request(port, "/put", { method: "PUT", body: "x".repeat(200_000) });
  assert.equal(put.json<EchoResponse>().body.length, 200_000);
  const redirect = await request(port, "/redirect/y");
  assert.equal(redirect.status, 302);
});

test("HTTP/1.1 keep-alive and pipelined requests still work after the first bytes were sniffed", async () => {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: example.com\r\n\r\n`;
  sock.write(req("/one") + req("/two"));
  const text = await new Promise<string>((resolve, reject) => {
    let acc = "";
    const t = setTimeout(() => reject(new Error(`timeout; got ${acc}`)), 5000);
    sock.on("data", (c: Buffer) => {
      acc += c.toString("latin1");
      if (acc.includes('"path":"/one"') && acc.includes('"path":"/two"')) {
        clearTimeout(t);
        resolve(acc);
      }
    });
  });
  assert.equal(text.match(/HTTP\/1\.1 200/g)?.length, 2);
  assert.ok(text.indexOf('"/one"') < text.indexOf('"/two"'));
  sock.destroy();
});

test("a preface split across TCP segments is still recognised", async () => {
  // A relay that forwards the client's first bytes to the gateway in small, delayed pieces.
  const relay = net.createServer((client) => {
    const up = net.connect(port, "127.0.0.1");
    up.setNoDelay(true);
    let first = true;
    client.on("data", (c: Buffer) => {
      if (!first) {
        up.write(c);
        return;
      }
      first = false;
      client.pause();
      const pieces = [c.subarray(0, 3), c.subarray(3, 10), c.subarray(10, 20), c.subarray(20)];
      let i = 0;
      const next = (): void => {
        if (i === pieces.length) {
          client.resume();
          return;
        }
        up.write(pieces[i++]!);
        setTimeout(next, 25);
      };
      next();
    });
    up.pipe(client);
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", () => r()));
  const relayPort = (relay.address() as net.AddressInfo).port;
  const session = await connectH2(() => net.connect(relayPort, "127.0.0.1"));
  try {
    const r = await h2request(session, "/split");
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as EchoResponse).path, "/split");
  } finally {
    session.close();
    await new Promise((r) => relay.close(r));
  }
});

test("a connection that sends a preface fragment and leaves does not disturb the listener", async () => {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  sock.end("PRI * HT");
  await new Promise<void>((r) => {
    sock.on("close", () => r());
    sock.resume();
  });
  assert.equal((await request(port, "/after")).status, 200);
});
