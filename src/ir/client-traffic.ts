// IR for how clients reach a Gateway listener: client certificate validation (mTLS), the client
// certificate details forwarded to backends (X-Forwarded-Client-Cert), and request limits. Resolved
// by the translator from Gateway spec.tls.frontend (GEP-91), ClientTrafficPolicy and
// BackendTrafficPolicy requestBuffer; enforced by src/proxy/tls.ts, src/proxy/tls-client-cert.ts and
// src/proxy/guards/request-limits.ts. Absent fields mean the defaults the proxy documents.

/** Client certificate validation on an HTTPS Gateway listener. */
export interface IrClientValidation {
  /** Trusted CA certificates (PEM bundle) the client's chain must lead to. */
  caPem: string;
  /**
   * "Require": a valid certificate is needed. "Optional": a client may present none, but one it
   * presents must be valid (ClientTrafficPolicy optional: true). "AllowInsecureFallback": asked for,
   * never required (GEP-91 mode AllowInsecureFallback): identity is forwarded when valid.
   */
  mode: "Require" | "Optional" | "AllowInsecureFallback";
}

export type IrXfccMode = "Sanitize" | "ForwardOnly" | "AppendForward" | "SanitizeSet" | "AlwaysForwardOnly";
export type IrXfccDetail = "Subject" | "Cert" | "Chain" | "DNS" | "URI";

/** What the backend is told about the client certificate (Envoy's X-Forwarded-Client-Cert). */
export interface IrXfcc {
  mode: IrXfccMode;
  /** Elements added besides Hash (always) and By (the gateway's URI SAN, when it has one). */
  certDetailsToAdd: IrXfccDetail[];
}

/** Request limits of a Gateway listener; an absent field takes the proxy's default. */
export interface IrRequestLimits {
  /** Request line + header names and values, in bytes (default 60 KiB); over it: 431. */
  maxRequestHeaderBytes?: number;
  /** Header fields (default 100); over it: 431. */
  maxHeadersCount?: number;
  /** Request target (path and query), in bytes (default 16 KiB); over it: 414. */
  maxPathLength?: number;
}

/** A client certificate the gateway presents to TLS backends (Gateway spec.tls.backend, GEP-3155). */
export interface IrClientCertificate {
  /** "<namespace>/<secret name>" */
  name: string;
  certPem: string;
  keyPem: string;
}
