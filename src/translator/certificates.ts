// HTTPS listener certificates: Secret references resolved to PEM, checked with node:crypto.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import type { ISecretObjectReference } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/SecretObjectReference";
import type { IrCertificate } from "../ir/types.js";
import type { Context } from "./context.js";
import { GW_GROUP } from "./kinds.js";
import { referencePermitted } from "./reference-grants.js";
import { secretValue } from "./secrets.js";

export type CertResult =
  | { ok: true; cert: IrCertificate }
  | { ok: false; reason: "InvalidCertificateRef" | "RefNotPermitted"; message: string; expected: string };

export function resolveCertificate(ctx: Context, gatewayNs: string, ref: ISecretObjectReference): CertResult {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Secret";
  const ns = ref.namespace || gatewayNs;
  const id = `${ns}/${ref.name}`;
  if (group !== "" || kind !== "Secret") {
    return {
      ok: false,
      reason: "InvalidCertificateRef",
      message: `certificateRef kind ${group ? group + "/" : ""}${kind} is not supported`,
      expected: 'a core Secret (group "", kind Secret)',
    };
  }
  if (!referencePermitted(ctx.index, { group: GW_GROUP, kind: "Gateway", namespace: gatewayNs }, { group: "", kind: "Secret", namespace: ns, name: ref.name })) {
    return {
      ok: false,
      reason: "RefNotPermitted",
      message: `Secret ${id} is in another namespace and no ReferenceGrant allows it`,
      expected: `a ReferenceGrant in namespace ${ns} from Gateways in ${gatewayNs} to Secrets`,
    };
  }
  const secret = ctx.index.secrets.get(id);
  if (!secret) {
    return { ok: false, reason: "InvalidCertificateRef", message: `Secret ${id} not found`, expected: "an existing Secret of type kubernetes.io/tls" };
  }
  const s = secret.typed;
  if (s.type !== "kubernetes.io/tls") {
    return {
      ok: false,
      reason: "InvalidCertificateRef",
      message: `Secret ${id} has type ${s.type ?? "Opaque"}`,
      expected: "type kubernetes.io/tls",
    };
  }
  const certPem = secretValue(s.data, s.stringData, "tls.crt");
  const keyPem = secretValue(s.data, s.stringData, "tls.key");
  if (!certPem || !keyPem) {
    return {
      ok: false,
      reason: "InvalidCertificateRef",
      message: `Secret ${id} lacks ${!certPem ? "tls.crt" : "tls.key"}`,
      expected: "data with PEM tls.crt and tls.key",
    };
  }
  // Fixed messages (not the crypto error text) keep the output identical across Node versions.
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    return { ok: false, reason: "InvalidCertificateRef", message: `Secret ${id}: tls.crt is not a valid PEM certificate`, expected: "a PEM certificate (chain) in tls.crt" };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return { ok: false, reason: "InvalidCertificateRef", message: `Secret ${id}: tls.key is not a valid PEM private key`, expected: "the PEM private key of the certificate in tls.key" };
  }
  if (!x509.checkPrivateKey(key)) {
    return { ok: false, reason: "InvalidCertificateRef", message: `Secret ${id}: tls.key does not match tls.crt`, expected: "the private key of the certificate in tls.key" };
  }
  return { ok: true, cert: { name: id, certPem, keyPem } };
}
