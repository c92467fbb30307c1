// Self-signed certificates for the HTTPS cases, made with the openssl CLI at test start
// (Node's crypto can make keys but not X.509 certificates).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertPair {
  certPem: string;
  keyPem: string;
}

/** A self-signed EC certificate (fast to make) valid for the given DNS names. */
export function selfSignedCert(dnsNames: string[], commonName = dnsNames[0] ?? "sluice-conformance"): CertPair {
  const dir = mkdtempSync(join(tmpdir(), "sluice-conf-cert-"));
  try {
    const key = join(dir, "tls.key");
    const crt = join(dir, "tls.crt");
    const san = dnsNames.map((d) => `DNS:${d}`).join(",");
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", crt, "-days", "2", "-subj", `/CN=${commonName.replace(/\*/g, "wildcard")}`,
        ...(san ? ["-addext", `subjectAltName=${san}`] : []),
      ],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 },
    );
    return { certPem: readFileSync(crt, "utf8"), keyPem: readFileSync(key, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A kubernetes.io/tls Secret holding the pair, as YAML. */
export function tlsSecretYaml(namespace: string, name: string, pair: CertPair): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Secret",
    `metadata: {name: ${name}, namespace: ${namespace}}`,
    "type: kubernetes.io/tls",
    "data:",
    `  tls.crt: ${b64(pair.certPem)}`,
    `  tls.key: ${b64(pair.keyPem)}`,
    "",
  ].join("\n");
}
