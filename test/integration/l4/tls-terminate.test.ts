// TLS listeners in mode Terminate through a real gateway: the gateway answers the handshake with the
// listener's certificate (chosen by SNI among several), relays plaintext to a TCP backend both ways
// with half-close, shares the port with a Passthrough listener (the SNI decides, listener isolation),
// and refuses names no route serves and backends that do not resolve.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import tls from "node:tls";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { backendRef, gatewayYaml, l4RouteYaml } from "../../helpers/gateway-yaml.js";
import { selfSignedCert, tlsSecretYaml, type CertPair } from "../../conformance/harness/certs.js";
import { backendYaml, tcpEcho, tlsEcho, type TcpBackend, type TlsBackend } from "./backends.js";

let gw: GatewayProcess;
let plainA: TcpBackend, plainN: TcpBackend;
let passB: TlsBackend;
let certA: CertPair, certNet: CertPair, certSpecial: CertPair;
let port: number;

function config(): string {
  return [
    `${gatewayYaml("edge", [`{name: term-a, port: ${port}, protocol: TLS, hostname: a.example.com, tls: {mode: Terminate, certificateRefs: [{name: cert-a}]}}`, `{name: term-net, port: ${port}, protocol: TLS, hostname: "*.example.net", tls: {mode: Terminate, certificateRefs: [{name: cert-special}, {name: cert-net}]}}`, `{name: pass, port: ${port}, protocol: TLS, hostname: "*.example.org", tls: {mode: Passthrough}}`, `{name: term-isolated, port: ${port}, protocol: TLS, hostname: isolated.example.org, tls: {mode: Terminate, certificateRefs: [{name: cert-a}]}}`])}---
`,
    tlsSecretYaml("default", "cert-a", certA),
    "---\n",
    tlsSecretYaml("default", "cert-net", certNet),
    "---\n",
    tlsSecretYaml("default", "cert-special", certSpecial),
    "---\n",
    backendYaml("plain-a", plainA.port),
    backendYaml("plain-n", plainN.port),
    backendYaml("pass-b", passB.port),
    `${l4RouteYaml("TLSRoute", "term-a", "edge", "term-a", backendRef("plain-a"), { hostnames: "a.example.com", version: "v1" })}---
${l4RouteYaml("TLSRoute", "term-net", "edge", "term-net", backendRef("plain-n"), { hostnames: `"*.example.net"`, version: "v1" })}---
${l4RouteYaml("TLSRoute", "pass", "edge", "pass", backendRef("pass-b"), { hostnames: `"*.example.org"`, version: "v1" })}---
${l4RouteYaml("TLSRoute", "unresolved", "edge", "term-net", backendRef("does-not-exist"), { hostnames: "broken.example.net", version: "v1" })}`,
  ].join("");
}

before(async () => {
  certA = selfSignedCert(["a.example.com", "isolated.example.org"]);
  certNet = selfSignedCert(["*.example.net"]);
  certSpecial = selfSignedCert(["special.example.net"]);
  [plainA, plainN] = await Promise.all([tcpEcho("a"), tcpEcho("n")]);
  passB = await tlsEcho("pass-b", ["*.example.org"]);
  port = await freePort();
  gw = await GatewayProcess.start({ files: { "edge.yaml": config() }, workers: 2 });
});

after(async () => {
  await gw?.stop();
  for (const s of [plainA?.server, plainN?.server, passB?.server]) s?.close();
});

interface Outcome {
  /** Certificate the gateway (or, in passthrough, the backend) answered with. */
  fingerprint: string;
  /** Everything received after sending `payload` and half-closing, until the close. */
  received: Buffer;
}

/** TLS to the gateway with SNI, trusting `ca`; sends, half-closes (TLS close_notify + FIN), reads to the end. */
function tlsExchange(servername: string, ca: string, payload: Buffer, halfClose = true): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca });
    const chunks: Buffer[] = [];
    let fingerprint = "";
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout (${servername}), got ${Buffer.concat(chunks).length} bytes`));
    }, 15_000);
    s.once("secureConnect", () => {
      fingerprint = s.getPeerX509Certificate()?.fingerprint256 ?? "";
      if (halfClose) s.end(payload);
      else s.write(payload);
    });
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      if (!halfClose && Buffer.concat(chunks).length >= payload.length) s.destroy();
    });
    s.on("end", () => s.end());
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.once("close", () => {
      clearTimeout(t);
      resolve({ fingerprint, received: Buffer.concat(chunks) });
    });
  });
}

const fp = (c: CertPair): string => new X509Certificate(c.certPem).fingerprint256;

test("Terminate: the listener's certificate answers, plaintext reaches the TCP backend and comes back, half-close included", async () => {
  for (const size of [1, 1000, 2 * 1024 * 1024]) {
    const payload = randomBytes(size);
    const got = await tlsExchange("a.example.com", certA.certPem, payload);
    assert.equal(got.fingerprint, fp(certA));
    const trailer = `|a|${size}`;
    assert.equal(got.received.length, size + trailer.length, `size ${size}`);
    assert.ok(got.received.subarray(0, size).equals(payload), `payload of ${size} bytes differs`);
    // The backend counted exactly the payload: it saw plaintext, not TLS records, then the FIN.
    assert.equal(got.received.subarray(size).toString(), trailer);
  }
});

test("Terminate: among a listener's certificates the SNI picks the matching one", async () => {
  const wild = await tlsExchange("x.example.net", certNet.certPem, Buffer.from("hello"));
  assert.equal(wild.fingerprint, fp(certNet));
  assert.equal(wild.received.toString(), "hello|n|5");
  const special = await tlsExchange("special.example.net", certSpecial.certPem, Buffer.from("hi"));
  assert.equal(special.fingerprint, fp(certSpecial));
  assert.equal(special.received.toString(), "hi|n|2");
});

test("mixed port: a Passthrough listener's SNI reaches the TLS backend, which answers with its own certificate", async () => {
  const got = await tlsExchange("b.example.org", passB.cert.certPem, Buffer.from("ping"), false);
  assert.equal(got.fingerprint, fp(passB.cert));
  assert.equal(got.received.toString(), "pass-b:ping");
});

/** Connects with SNI and reports whether a handshake completed. */
function handshake(servername: string): Promise<string> {
  return new Promise((res) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
    const t = setTimeout(() => {
      s.destroy();
      res("timeout");
    }, 10_000);
    const done = (what: string): void => {
      clearTimeout(t);
      s.destroy();
      res(what);
    };
    s.once("secureConnect", () => done("handshake"));
    s.once("error", (e) => done(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    s.once("close", () => done("closed"));
  });
}

test("refusals: an SNI no listener or route serves, an isolated listener without routes, and an unresolved backend close without a handshake", async () => {
  // isolated.example.org matches the Passthrough "*.example.org" listener too, but the more specific
  // Terminate listener owns it and has no route: refused, not passed through.
  for (const name of ["nothing.example.com", "isolated.example.org", "broken.example.net"]) {
    const outcome = await handshake(name);
    assert.notEqual(outcome, "handshake", name);
    assert.notEqual(outcome, "timeout", name);
  }
});

test("Terminate: a client that fails the handshake sends nothing to the backend", async () => {
  const before = plainA.received;
  // A client that does not trust the certificate aborts the handshake.
  await assert.rejects(tlsExchange("a.example.com", certNet.certPem, Buffer.from("x")));
  // The backend may have been connected while the handshake ran, but no byte reaches it.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(plainA.received, before);
});
