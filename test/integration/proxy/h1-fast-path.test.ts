// The HTTP/1.1 fast path (src/proxy/h1/) where it differs in mechanism from node:http: back-pressure
// from a client that stops reading, a port that closes with connections open on it (idle ones go at
// once; one with a response in progress finishes it first), and HTTP/1.1 over TLS (ALPN http/1.1
// or none), including the hand-over to node:http on a TLS connection. Byte-level behaviour shared
// with node:http on a plain port is in test/integration/http1-wire.test.ts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml, prefixRouteYaml } from "../../helpers/gateway-yaml.js";

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
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-days", "2", "-subj", "/CN=app.example", "-addext", "subjectAltName=DNS:app.example"], { stdio: "ignore" });
  const b64 = (f: string): string => readFileSync(join(dir, f)).toString("base64");
  secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: default}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64("c")}, tls.key: ${b64("k")}}\n`;
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

/** A raw client connection that collects what it reads. */
class Client {
  buf = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];
  constructor(readonly sock: net.Socket) {
    sock.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => {});
  }

  static open(p: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p, "127.0.0.1", () => resolve(new Client(s)));
      s.once("error", reject);
    });
  }

  /** A TLS connection offering `alpn` (none: no ALPN extension). */
  static openTls(p: number, alpn?: string[]): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: p, servername: "app.example", rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) }, () => resolve(new Client(s)));
      s.once("error", reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `cond` holds (checked on each read and on close), at most `ms`. */
  async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: not after ${ms} ms (${this.buf.length} bytes read, closed=${this.closed})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Reads one response (Content-Length or chunked body); returns its status, head and body. */
  async response(ms = 10_000): Promise<{ status: number; head: string; body: Buffer }> {
    let got: { status: number; head: string; body: Buffer; used: number } | null = null;
    await this.until(() => (got = parseResponse(this.buf)) !== null, ms, "response");
    const r = got!;
    this.buf = this.buf.subarray(r.used);
    return r;
  }
}

/** One complete response at the start of `buf`, or null while it is incomplete. */
function parseResponse(buf: Buffer): { status: number; head: string; body: Buffer; used: number } | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (cl) {
    const len = Number(cl[1]);
    return buf.length >= end + 4 + len ? { status, head, body: buf.subarray(end + 4, end + 4 + len), used: end + 4 + len } : null;
  }
  assert.match(head, /\r\ntransfer-encoding: chunked/i);
  const parts: Buffer[] = [];
  let pos = end + 4;
  for (;;) {
    const eol = buf.indexOf("\r\n", pos);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(pos, eol).toString("latin1"), 16);
    if (size === 0) return buf.length >= eol + 4 ? { status, head, body: Buffer.concat(parts), used: eol + 4 } : null;
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

const get = (path: string, extra = ""): string => `GET ${path} HTTP/1.1\r\nHost: app.example\r\n${extra}\r\n`;

test("a client that stops reading holds the response back (back-pressure), then gets all of it; the connection goes on", async () => {
  const c = await Client.open(port);
  try {
    const size = 8 * 1024 * 1024;
    c.sock.pause();
    c.sock.write(get("/big", `x-echo-body-bytes: ${size}\r\n`));
    // Long enough for the socket buffers to fill and the gateway to wait for 'drain'.
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(c.buf.length < size, "nothing can be read while paused");
    c.sock.resume();
    const r = await c.response(20_000);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    assert.equal(createHash("sha256").update(r.body).digest("hex"), createHash("sha256").update(Buffer.alloc(size, "x")).digest("hex"));
    c.sock.write(get("/after"));
    const next = await c.response();
    assert.equal(next.status, 200);
    assert.equal((JSON.parse(next.body.toString()) as { path: string }).path, "/after");
  } finally {
    c.sock.destroy();
  }
});

test("ports that close: idle connections are closed, one with a response in progress gets it first (plain and TLS)", async () => {
  const clients = [await Client.open(port), await Client.open(port), await Client.openTls(tlsPort, ["http/1.1"]), await Client.openTls(tlsPort, ["http/1.1"])];
  const [idle, busy, tlsIdle, tlsBusy] = clients as [Client, Client, Client, Client];
  try {
    for (const [i, c] of clients.entries()) {
      c.sock.write(get(`/warm/${i}`));
      assert.equal((await c.response()).status, 200);
    }
    busy.sock.write(get("/slow/plain", "x-echo-delay-ms: 700\r\n"));
    tlsBusy.sock.write(get("/slow/tls", "x-echo-delay-ms: 700\r\n"));
    // The requests must be with the backend before the ports go.
    const t0 = Date.now();
    while (echo.requests.filter((q) => q.path.startsWith("/slow/")).length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    const before = (await gw.readyState())?.version ?? 0;
    const other = await freePort();
    const otherTls = await freePort();
    gw.write("gw.yaml", config(other, otherTls));
    await gw.waitReady(before + 1);
    await idle.until(() => idle.closed, 5000, "idle connection closed");
    await tlsIdle.until(() => tlsIdle.closed, 5000, "idle TLS connection closed");
    for (const [c, path] of [[busy, "/slow/plain"], [tlsBusy, "/slow/tls"]] as const) {
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as { path: string }).path, path);
      await c.until(() => c.closed, 5000, `${path}: connection closed after its response`);
    }
    // The new ports serve.
    for (const n of [await Client.open(other), await Client.openTls(otherTls, ["http/1.1"])]) {
      n.sock.write(get("/new-port"));
      assert.equal((await n.response()).status, 200);
      n.sock.destroy();
    }
    port = other;
    tlsPort = otherTls;
  } finally {
    for (const c of clients) c.sock.destroy();
  }
});

test("HTTP/1.1 over TLS (ALPN http/1.1, and no ALPN): simple requests, a body handed over to node:http, then more on the same connection", async () => {
  for (const alpn of [["http/1.1"], undefined]) {
    const c = await Client.openTls(tlsPort, alpn);
    try {
      for (let i = 0; i < 3; i++) {
        c.sock.write(get(`/tls/${i}`));
        const r = await c.response();
        assert.equal(r.status, 200);
        assert.match(r.head, /\r\nConnection: keep-alive\r\n/);
        assert.equal((JSON.parse(r.body.toString()) as { path: string }).path, `/tls/${i}`);
      }
      c.sock.write("POST /tls/body HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\n\r\nhello");
      const p = await c.response();
      assert.equal(p.status, 200);
      const e = JSON.parse(p.body.toString()) as { path: string; method: string; body: string; headers: Record<string, string[]> };
      assert.equal(e.method, "POST");
      assert.equal(e.body, "hello");
      assert.deepEqual(e.headers["x-forwarded-proto"], ["https"]);
      c.sock.write(get("/tls/after"));
      assert.equal((JSON.parse((await c.response()).body.toString()) as { path: string }).path, "/tls/after");
    } finally {
      c.sock.destroy();
    }
  }
});
