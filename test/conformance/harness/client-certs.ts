// Client certificate pieces for the frontend validation (GEP-91) and backend client certificate
// (GEP-3155) cases: the CAs and client certificates the upstream suite creates (as ConfigMaps and
// kubernetes.io/tls Secrets), an HTTPS request that presents a client certificate, and a TLS backend
// "pod" that requires one and reports the certificate it got.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { holdsInARow } from "./eventually.js";
import { tlsSecretYaml, type CertPair } from "./certs.js";

export interface ClientPki {
  ca: CertPair;
  client: CertPair;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA and a client certificate it signed, made with openssl. */
export function clientPki(name: string, extraLeaf?: { issuer: CertPair; subject: string; san: string }): ClientPki {
  const dir = mkdtempSync(join(tmpdir(), "sluice-conf-client-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  const read = (f: string): string => readFileSync(join(dir, f), "utf8");
  try {
    let ca: CertPair;
    if (extraLeaf) {
      ca = extraLeaf.issuer;
      writeFileSync(join(dir, "ca.crt"), ca.certPem);
      writeFileSync(join(dir, "ca.key"), ca.keyPem);
    } else {
      run("req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", `/CN=${name} CA`);
      ca = { certPem: read("ca.crt"), keyPem: read("ca.key") };
    }
    run("req", ...EC, "-keyout", "client.key", "-out", "client.csr", "-subj", extraLeaf?.subject ?? `/CN=${name} client`);
    writeFileSync(join(dir, "ext"), `subjectAltName=${extraLeaf?.san ?? `DNS:${name}.client.example`}\nextendedKeyUsage=clientAuth,serverAuth\n`);
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "2", "-extfile", "ext");
    return { ca, client: { certPem: read("client.crt"), keyPem: read("client.key") } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function caConfigMapYaml(ns: string, name: string, pem: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${ns}}
data:
  ca.crt: |
${pem.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}
`;
}

/** CA ConfigMap plus client Secret, named as upstream's suite names them. */
export function pkiYaml(ns: string, caName: string, clientName: string, pki: ClientPki): string {
  return `${caConfigMapYaml(ns, caName, pki.ca.certPem)}---\n${tlsSecretYaml(ns, clientName, pki.client)}`;
}

export interface TlsResult {
  status: number;
  /** The answering pod, from the echo backend's JSON. */
  pod?: string;
  namespace?: string;
  body: string;
}

/** One HTTPS request on a fresh connection presenting `client` (or no certificate). */
export function tlsGet(port: number, host: string, serverCa: string, client: CertPair | null, path = "/"): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        servername: host,
        headers: { host },
        ca: serverCa,
        // The suite's server certificate names "*" and "*.org": the chain is what is checked.
        checkServerIdentity: () => undefined,
        agent: false,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          let pod: string | undefined;
          let namespace: string | undefined;
          try {
            const j = JSON.parse(body) as { pod?: string; namespace?: string };
            pod = j.pod;
            namespace = j.namespace;
          } catch {
            // not a backend's answer
          }
          resolve({ status: res.statusCode ?? 0, body, ...(pod !== undefined ? { pod } : {}), ...(namespace !== undefined ? { namespace } : {}) });
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Retries until `check` holds twice in a row (bounded), like upstream's eventually-consistent helpers. */
export async function eventuallyTls(what: string, attempt: () => Promise<string | null>, windowMs = 3000): Promise<void> {
  await holdsInARow(attempt, { windowMs }).catch((err: Error) => {
    throw new Error(`${what}: ${err.message}`);
  });
}

/** Upstream's MakeTLSRequestAndExpectEventuallyConsistentResponse: 200 from the expected pod. */
export function expectTlsSuccess(port: number, host: string, serverCa: string, client: CertPair | null, podPrefix: string): Promise<void> {
  return eventuallyTls(`HTTPS request to ${host} should reach ${podPrefix}`, async () => {
    try {
      const r = await tlsGet(port, host, serverCa, client);
      if (r.status !== 200) return `status ${r.status}: ${r.body.trim()}`;
      if (!r.pod?.startsWith(podPrefix)) return `answered by ${r.pod ?? "the gateway"}`;
      return null;
    } catch (err) {
      return `request failed: ${(err as Error).message}`;
    }
  });
}

/** Upstream's MakeTLSRequestAndExpectEventuallyConsistentFailureResponse: the round trip fails. */
export function expectTlsFailure(port: number, host: string, serverCa: string, client: CertPair | null): Promise<void> {
  return eventuallyTls(`HTTPS request to ${host} should fail`, async () => {
    try {
      const r = await tlsGet(port, host, serverCa, client);
      return `unexpectedly answered ${r.status} (${r.pod ?? "gateway"})`;
    } catch {
      return null;
    }
  });
}

/** A TLS backend that requires a client certificate signed by `clientCa` and reports it (PEM) in its JSON. */
export async function startClientCertBackend(opts: { server: CertPair; clientCa: string; namespace: string; pod: string }): Promise<{ port: number; close(): Promise<void>; seen: string[] }> {
  const seen: string[] = [];
  const s = https.createServer({ cert: opts.server.certPem, key: opts.server.keyPem, ca: opts.clientCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate();
    const pem = peer?.toString() ?? "";
    seen.push(pem);
    res.setHeader("content-type", "application/json");
    const headers: Record<string, string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) (headers[req.rawHeaders[i]!.toLowerCase()] ??= []).push(req.rawHeaders[i + 1]!);
    // The echo backend's answer (what the harness compares), plus the client certificate.
    res.end(JSON.stringify({ pod: opts.pod, namespace: opts.namespace, service: opts.pod.replace(/-pod-\d+$/, ""), method: req.method, path: req.url, host: req.headers.host ?? "", proto: "HTTP/1.1", headers, body: "", clientCert: pem }));
  });
  s.on("tlsClientError", () => {});
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { port: (s.address() as net.AddressInfo).port, seen, close: () => new Promise((r) => s.close(() => r())) };
}
