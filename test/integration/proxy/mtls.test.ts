// Client certificates on the wire (ClientTrafficPolicy tls.clientValidation and
// headers.xForwardedClientCert, Gateway spec.tls.backend): a real gateway, certificates made with
// openssl. A listener that requires a certificate refuses the handshake without a valid one; an
// optional one lets clients without a certificate through but refuses a wrong one; on a port shared
// with listeners that do not require one, each listener's CA and mode hold per request (403). The
// backend sees X-Forwarded-Client-Cert as the mode says. The gateway presents its backend client
// certificate to a TLS backend that requires one.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import http2 from "node:http2";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { BACKEND } from "../control/fixtures.js";

interface Pair {
  cert: string;
  key: string;
}

let dir: string;
const pem: Record<string, Pair> = {};
let echo: EchoServer;
let tlsBackend: https.Server;
let tlsBackendPort: number;
/** Client certificate fingerprints the TLS backend saw, per request. */
const backendPeers: string[] = [];
let gw: GatewayProcess;
let pRequire: number;
let pOptional: number;
let pShared: number;
let pBackend: number;
let pPlainBackend: number;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function ca(name: string, cn: string): void {
  openssl("req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${cn}`);
  pem[name] = { cert: readFileSync(join(dir, `${name}.crt`), "utf8"), key: readFileSync(join(dir, `${name}.key`), "utf8") };
}

function leaf(name: string, issuer: string, subj: string, san: string): void {
  openssl("req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.crt`, "-CAkey", `${issuer}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
  pem[name] = { cert: readFileSync(join(dir, `${name}.crt`), "utf8"), key: readFileSync(join(dir, `${name}.key`), "utf8") };
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const indent = (s: string, n: number): string => s.trimEnd().split("\n").map((l) => " ".repeat(n) + l).join("\n");

const tlsSecret = (name: string, p: Pair): string => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${b64(p.cert)}, tls.key: ${b64(p.key)} }
`;

const caConfigMap = (name: string, certPem: string): string => `apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}, namespace: default }
data:
  ca.crt: |
${indent(certPem, 4)}
`;

const httpsListener = (name: string, port: number, hostname?: string): string =>
  `    - { name: ${name}, protocol: HTTPS, port: ${port}${hostname ? `, hostname: ${hostname}` : ""}, tls: { certificateRefs: [{ name: server }] } }`;

const clientPolicy = (name: string, section: string, spec: string): string => `apiVersion: sluice.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: ${section} }]
${indent(spec, 2)}
`;

function config(): Record<string, string> {
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: sluice }
spec: { controllerName: sluice.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: sluice
  listeners:
${httpsListener("require", pRequire)}
${httpsListener("optional", pOptional)}
${httpsListener("shared-mtls", pShared, "mtls.example")}
${httpsListener("shared-other-ca", pShared, "other.example")}
${httpsListener("shared-open", pShared, "open.example")}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - backendRefs: [{ group: sluice.dev, kind: Backend, name: echo, port: 1 }]
---
${BACKEND("echo", echo.port)}`;
  const policies = [
    clientPolicy("require", "require", `tls:
  clientValidation: { caCertificateRefs: [{ kind: ConfigMap, name: client-ca }] }
headers:
  xForwardedClientCert: { mode: SanitizeSet, certDetailsToAdd: [Subject, URI, DNS, Cert] }`),
    clientPolicy("optional", "optional", `tls:
  clientValidation: { optional: true, caCertificateRefs: [{ kind: Secret, name: client-ca-secret }] }
headers:
  xForwardedClientCert: { mode: AppendForward }`),
    clientPolicy("shared-mtls", "shared-mtls", `tls:
  clientValidation: { caCertificateRefs: [{ name: client-ca }] }
headers:
  xForwardedClientCert: { mode: SanitizeSet }`),
    clientPolicy("shared-other-ca", "shared-other-ca", `tls:
  clientValidation: { caCertificateRefs: [{ name: other-ca }] }`),
  ].join("---\n");
  // A second Gateway presents a client certificate to a TLS backend that requires one; a third
  // reaches the same backend without one.
  const backendTls = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: with-client-cert, namespace: default }
spec:
  gatewayClassName: sluice
  tls:
    backend:
      clientCertificateRef: { kind: Secret, name: gateway-client }
  listeners:
    - { name: http, protocol: HTTP, port: ${pBackend} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: without-client-cert, namespace: default }
spec:
  gatewayClassName: sluice
  listeners:
    - { name: http, protocol: HTTP, port: ${pPlainBackend} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: to-tls-backend, namespace: default }
spec:
  parentRefs: [{ name: with-client-cert }, { name: without-client-cert }]
  rules:
    - backendRefs: [{ group: sluice.dev, kind: Backend, name: tls-backend, port: 1 }]
---
${BACKEND("tls-backend", tlsBackendPort)}---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: tls-backend, namespace: default }
spec:
  targetRefs: [{ group: sluice.dev, kind: Backend, name: tls-backend }]
  validation:
    caCertificateRefs: [{ group: "", kind: ConfigMap, name: backend-ca }]
    hostname: backend.internal
`;
  const secrets = [
    tlsSecret("server", pem.server!),
    tlsSecret("gateway-client", pem.gatewayClient!),
    caConfigMap("client-ca", pem.clientCa!.cert),
    caConfigMap("other-ca", pem.otherCa!.cert),
    caConfigMap("backend-ca", pem.backendCa!.cert),
    `apiVersion: v1
kind: Secret
metadata: { name: client-ca-secret, namespace: default }
data: { ca.crt: ${b64(pem.clientCa!.cert)} }
`,
  ].join("---\n");
  return { "gateway.yaml": gateway, "policies.yaml": policies, "backend-tls.yaml": backendTls, "secrets.yaml": secrets };
}

type Res = HttpResult;

/** One HTTPS request on a fresh connection, with the given client certificate (or none). */
const get = (port: number, host: string, client: Pair | null, headers: Record<string, string> = {}): Promise<Res> =>
  httpCall(port, "/", { headers: { host, ...headers }, tls: { servername: host, ca: pem.server!.cert, ...(client ? { cert: client.cert, key: client.key } : {}) }, timeoutMs: 5000 });

const xfccOf = (r: Res): string | undefined => r.echo?.headers["x-forwarded-client-cert"]?.[0];
const hashOf = (p: Pair): string => new X509Certificate(p.cert).fingerprint256.replace(/:/g, "").toLowerCase();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-mtls-"));
  openssl("req", "-x509", ...EC, "-keyout", "server.key", "-out", "server.crt", "-days", "2", "-subj", "/CN=gateway", "-addext", "subjectAltName=DNS:secure.example,DNS:mtls.example,DNS:other.example,DNS:open.example");
  pem.server = { cert: readFileSync(join(dir, "server.crt"), "utf8"), key: readFileSync(join(dir, "server.key"), "utf8") };
  ca("clientCa", "client CA");
  ca("otherCa", "other CA");
  ca("backendCa", "backend CA");
  ca("gatewayClientCa", "gateway client CA");
  leaf("client", "clientCa", "/CN=client one/O=acme", "URI:spiffe://acme/client1,DNS:client1.acme");
  leaf("otherClient", "otherCa", "/CN=client two", "DNS:client2.other");
  leaf("backendServer", "backendCa", "/CN=backend.internal", "DNS:backend.internal");
  leaf("gatewayClient", "gatewayClientCa", "/CN=sluice gateway", "URI:spiffe://acme/gateway");

  echo = await startEchoServer({ pod: "echo" });
  tlsBackend = https.createServer(
    { cert: pem.backendServer!.cert, key: pem.backendServer!.key, ca: pem.gatewayClientCa!.cert, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      backendPeers.push(peer ? peer.fingerprint256 : "");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ pod: "tls-backend", peer: peer?.subject ?? null }));
    },
  );
  tlsBackend.on("tlsClientError", () => {});
  await new Promise<void>((r) => tlsBackend.listen(0, "127.0.0.1", r));
  tlsBackendPort = (tlsBackend.address() as net.AddressInfo).port;
  [pRequire, pOptional, pShared, pBackend, pPlainBackend] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  gw = await GatewayProcess.start({ files: config(), workers: 1 });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await new Promise((r) => tlsBackend?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("required: a valid certificate gets through and the backend sees its details (SanitizeSet)", async () => {
  const r = await get(pRequire, "secure.example", pem.client!, { "x-forwarded-client-cert": "Hash=spoofed" });
  assert.equal(r.status, 200, r.body);
  const xfcc = xfccOf(r);
  assert.ok(xfcc, "no X-Forwarded-Client-Cert at the backend");
  assert.ok(!xfcc.includes("spoofed"), "the client's own header must be replaced");
  assert.ok(xfcc.includes(`Hash=${hashOf(pem.client!)}`), xfcc);
  assert.ok(xfcc.includes('Subject="O=acme,CN=client one"'), xfcc);
  assert.ok(xfcc.includes("URI=spiffe://acme/client1"), xfcc);
  assert.ok(xfcc.includes("DNS=client1.acme"), xfcc);
  const cert = /Cert="([^"]+)"/.exec(xfcc)?.[1];
  assert.ok(cert, xfcc);
  assert.equal(new X509Certificate(decodeURIComponent(cert)).fingerprint256, new X509Certificate(pem.client!.cert).fingerprint256);
});

test("required: no certificate or one from another CA is refused at the handshake", async () => {
  const before = echo.requests.length;
  await assert.rejects(get(pRequire, "secure.example", null));
  await assert.rejects(get(pRequire, "secure.example", pem.otherClient!));
  assert.equal(echo.requests.length, before, "no request may reach the backend");
});

test("required over HTTP/2 as well", async () => {
  const session = http2.connect(`https://127.0.0.1:${pRequire}`, { servername: "secure.example", ca: pem.server!.cert, cert: pem.client!.cert, key: pem.client!.key });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ":path": "/", ":authority": "secure.example" });
      let b = "";
      s.on("data", (c: Buffer) => (b += c.toString()));
      s.on("end", () => resolve(b));
      s.on("error", reject);
      s.end();
    });
    const e = JSON.parse(body) as EchoResponse;
    assert.ok(e.headers["x-forwarded-client-cert"]?.[0]?.includes(`Hash=${hashOf(pem.client!)}`));
  } finally {
    session.close();
  }
});

test("optional: no certificate passes (a client's XFCC is dropped), a valid one is appended, a wrong one is refused", async () => {
  const none = await get(pOptional, "secure.example", null, { "x-forwarded-client-cert": "Hash=spoofed" });
  assert.equal(none.status, 200, none.body);
  assert.equal(xfccOf(none), undefined, "without mTLS the client's header must not reach the backend");
  const good = await get(pOptional, "secure.example", pem.client!, { "x-forwarded-client-cert": "By=upstream;Hash=abc" });
  assert.equal(good.status, 200);
  assert.equal(xfccOf(good), `By=upstream;Hash=abc,Hash=${hashOf(pem.client!)}`);
  const wrong = await get(pOptional, "secure.example", pem.otherClient!);
  assert.equal(wrong.status, 403);
  assert.match(wrong.body, /client certificate not accepted/);
});

test("a port shared with listeners that do not require a certificate: each listener's CA and mode hold", async () => {
  const before = echo.requests.length;
  const missing = await get(pShared, "mtls.example", null);
  assert.equal(missing.status, 403);
  assert.equal(missing.body, "client certificate required\n");
  assert.equal((await get(pShared, "mtls.example", pem.otherClient!)).status, 403);
  // The port trusts both CAs; this listener only its own.
  assert.equal((await get(pShared, "other.example", pem.client!)).status, 403);
  assert.equal(echo.requests.length, before, "refused requests must not reach the backend");
  const ok = await get(pShared, "mtls.example", pem.client!);
  assert.equal(ok.status, 200);
  assert.equal(xfccOf(ok), `Hash=${hashOf(pem.client!)}`);
  assert.equal((await get(pShared, "other.example", pem.otherClient!)).status, 200);
  const open = await get(pShared, "open.example", null, { "x-forwarded-client-cert": "Hash=kept" });
  assert.equal(open.status, 200);
  // No validation and no XFCC setting on this listener: the header is left alone.
  assert.equal(xfccOf(open), "Hash=kept");
});

function plain(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.setTimeout(5000, () => r.destroy(new Error("timeout")));
    r.on("error", reject);
    r.end();
  });
}

test("Gateway spec.tls.backend: the client certificate is presented to a TLS backend that requires one", async () => {
  const r = await plain(pBackend);
  assert.equal(r.status, 200, r.body);
  assert.equal(backendPeers.at(-1), new X509Certificate(pem.gatewayClient!.cert).fingerprint256);
  // A Gateway without one reaches the same backend without a certificate: the backend refuses.
  const n = backendPeers.length;
  const refused = await plain(pPlainBackend);
  assert.equal(refused.status, 503, refused.body);
  assert.equal(backendPeers.length, n);
});
