// HTTPS listeners: SNI across certificates, HTTP/2 via ALPN with HTTP/1.1 fallback, 421, and
// certificates replaced on reload without rebinding.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import http2 from "node:http2";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import type { IrCertificate, IrGatewayListener } from "../../../src/ir/types.js";
import { freePort } from "../../helpers/gateway.js";
import { cluster, forward, listener, route, snapshot } from "./helpers.js";

let dir: string;
let echo: EchoServer;
let port: number;
let dp: ProxyDataPlane;
const certs: Record<string, IrCertificate> = {};

function makeCert(name: string, cn: string): IrCertificate {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "2",
    "-subj", `/CN=${cn}`, "-addext", `subjectAltName=DNS:${cn}`,
  ], { stdio: "ignore" });
  return { name: `default/${name}`, certPem: readFileSync(crt, "utf8"), keyPem: readFileSync(key, "utf8") };
}

function gw(host: string, cert: IrCertificate, pod: string): IrGatewayListener {
  return {
    name: `default/gw/${host}`,
    hostname: host,
    tls: { certificates: [cert] },
    virtualHosts: [{ hostname: host, routes: [route({}, forward("echo"), { filters: { responseHeaders: { set: [{ name: "x-gw", value: pod }], add: [], remove: [] } } })] }],
  };
}

async function applyCerts(a: IrCertificate, b: IrCertificate): Promise<void> {
  const res = await dp.apply(snapshot([listener(port, [gw("a.example.com", a, "a"), gw("b.example.com", b, "b")], "HTTPS")], [cluster("echo", [echo])]));
  assert.ok(res[0]!.ok, JSON.stringify(res));
}

function peerCN(servername: string): Promise<{ cn: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve({ cn: String(c.subject.CN), fingerprint: c.fingerprint256 });
    });
    s.on("error", reject);
  });
}

function h1(servername: string, host: string): Promise<{ status: number; body: string; alpn: string | false; gw?: string }> {
  return new Promise((resolve, reject) => {
    // https.request hands ALPNProtocols on to tls.connect, though its option type omits it.
    const options: https.RequestOptions & { ALPNProtocols: string[] } = { host: "127.0.0.1", port, servername, path: "/", headers: { host }, rejectUnauthorized: false, agent: false, ALPNProtocols: ["http/1.1"] };
    const req = https.request(
      options,
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? false, gw: res.headers["x-gw"] as string }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function h2(servername: string, authority: string): Promise<{ status: number; body: string; alpn: string | false | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
    session.on("error", reject);
    const st = session.request({ ":path": "/h2", ":authority": authority });
    let body = "";
    let status = 0;
    st.on("response", (h) => (status = Number(h[":status"])));
    st.on("data", (d) => (body += d));
    st.on("end", () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, body, alpn });
    });
    st.on("error", reject);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-tls-"));
  certs.a = makeCert("a", "a.example.com");
  certs.b = makeCert("b", "b.example.com");
  certs.a2 = makeCert("a2", "a.example.com");
  echo = await startEchoServer({ pod: "e" });
  port = await freePort();
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  await applyCerts(certs.a!, certs.b!);
});

after(async () => {
  await dp.close();
  await echo.close();
  rmSync(dir, { recursive: true, force: true });
});

test("SNI picks the certificate of the matching listener; unknown SNI gets the first", async () => {
  assert.equal((await peerCN("a.example.com")).cn, "a.example.com");
  assert.equal((await peerCN("b.example.com")).cn, "b.example.com");
  assert.equal((await peerCN("c.example.org")).cn, "a.example.com");
});

test("HTTP/1.1 fallback and HTTP/2 via ALPN both reach the backend", async () => {
  const r1 = await h1("b.example.com", "b.example.com");
  assert.equal(r1.status, 200);
  assert.equal(r1.alpn, "http/1.1");
  assert.equal(r1.gw, "b");
  assert.equal(JSON.parse(r1.body).host, "b.example.com");
  const r2 = await h2("a.example.com", "a.example.com");
  assert.equal(r2.status, 200);
  assert.equal(r2.alpn, "h2");
  const e = JSON.parse(r2.body) as EchoResponse;
  assert.equal(e.path, "/h2");
  assert.equal(e.host, "a.example.com");
  assert.deepEqual(e.headers["x-forwarded-proto"], ["https"]);
});

test("Host of another listener than the SNI's is 421 (HTTP/1.1 and HTTP/2)", async () => {
  assert.equal((await h1("a.example.com", "b.example.com")).status, 421);
  assert.equal((await h2("b.example.com", "a.example.com")).status, 421);
});

test("certificates change on reload without rebinding the port", async () => {
  const before = await peerCN("a.example.com");
  await applyCerts(certs.a2!, certs.b!);
  const afterSwap = await peerCN("a.example.com");
  assert.equal(afterSwap.cn, "a.example.com");
  assert.notEqual(afterSwap.fingerprint, before.fingerprint);
  assert.equal((await peerCN("b.example.com")).cn, "b.example.com");
});
