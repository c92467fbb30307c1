// TLS to backends (BackendTLSPolicy): the connection options every upstream pool uses (raw HTTP/1.1
// pool, undici, HTTP/2 sessions, WebSocket pipes), built once per cluster: trusted CAs (the
// policy's bundle, or Node's well-known roots), SNI, and the identity check (the hostname, or any
// of the subjectAltNames when the policy lists them).
import { createHash } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import tls from "node:tls";
import { buildConnector } from "undici";
import type { IrClusterTls } from "../../ir/types.js";

export interface UpstreamTls {
  /** Options for tls.connect (undici's `connect` takes the same). */
  options: tls.ConnectionOptions;
  /** Distinguishes endpoints with different TLS settings in the endpoint registry. */
  key: string;
}

/**
 * Builds the connection options; `alpn` is what the cluster speaks ("h2" or "http/1.1"), null for
 * opaque bytes (a re-encrypted TLSRoute offers no protocol of its own).
 */
export function upstreamTls(t: IrClusterTls, alpn: "h2" | "http/1.1" | null): UpstreamTls {
  const options: tls.ConnectionOptions = {
    servername: t.servername,
    rejectUnauthorized: true,
    checkServerIdentity: identityCheck(t),
  };
  if (alpn !== null) options.ALPNProtocols = [alpn];
  if (t.caPem !== undefined) options.ca = t.caPem;
  // The Gateway's backend client certificate, for backends that ask for one.
  if (t.clientCertificate !== undefined) {
    options.cert = t.clientCertificate.certPem;
    options.key = t.clientCertificate.keyPem;
  }
  const client = t.clientCertificate?.certPem ?? "";
  const key = createHash("sha256").update(JSON.stringify([t.caPem ?? "", t.servername, t.subjectAltNames ?? [], alpn, client])).digest("hex").slice(0, 16);
  return { options, key };
}

/**
 * undici's connector for a TLS cluster. undici would send the request's Host as SNI; the policy's
 * hostname is what the backend must be asked for, whatever Host the client used.
 */
export function undiciConnector(t: UpstreamTls, socketPath: string | null): buildConnector.connector {
  const base = buildConnector({ ...t.options, ...(socketPath !== null ? { socketPath } : {}) });
  const servername = t.options.servername;
  return (opts, cb) => base({ ...opts, servername }, cb);
}

function identityCheck(t: IrClusterTls): (host: string, cert: PeerCertificate) => Error | undefined {
  const sans = t.subjectAltNames;
  const servername = t.servername;
  if (sans === undefined || sans.length === 0) {
    // Node's own check, against the policy's hostname rather than the endpoint's address.
    return (_host, cert) => tls.checkServerIdentity(servername, cert);
  }
  return (_host, cert) => {
    const uris = new Set<string>();
    for (const part of (cert.subjectaltname ?? "").split(", ")) if (part.startsWith("URI:")) uris.add(part.slice(4));
    for (const s of sans) {
      if (s.type === "URI" ? uris.has(s.value) : tls.checkServerIdentity(s.value, cert) === undefined) return undefined;
    }
    const want = sans.map((s) => `${s.type === "URI" ? "URI" : "DNS"}:${s.value}`).join(", ");
    return Object.assign(new Error(`backend certificate names (${cert.subjectaltname ?? "none"}) match none of the subjectAltNames ${want}`), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  };
}

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
]);

/** A readable reason when `err` is a TLS handshake or verification failure, else null. */
export function tlsFailure(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (!TLS_CODES.has(code) && !code.startsWith("ERR_SSL_")) return null;
  return `upstream TLS verification failed: ${typeof e?.message === "string" ? e.message : code} (${code})`;
}
