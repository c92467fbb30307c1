// A self-signed certificate for one host, as the kubernetes.io/tls Secret a Gateway listener refers to.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Makes key `k` and certificate `c` in `dir` (RSA, 2 days, CN and subjectAltName `host`) and returns
 * the Secret `name` in namespace default holding them (a YAML document ending in a newline) and the
 * certificate's PEM, for clients that should trust it.
 */
export function selfSignedTlsSecret(dir: string, host: string, name = "cert"): { yaml: string; certPem: string } {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-days", "2", "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`], { stdio: "ignore" });
  const b64 = (f: string): string => readFileSync(join(dir, f)).toString("base64");
  const yaml = `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: default}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64("c")}, tls.key: ${b64("k")}}\n`;
  return { yaml, certPem: readFileSync(join(dir, "c"), "utf8") };
}
