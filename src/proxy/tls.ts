// Certificate selection for HTTPS listeners. The SNICallback of a listener reads the selector of
// the snapshot currently installed, so certificates change on reload without reopening the socket.
//
// Client certificates (mTLS): the TLS layer of a port asks for a certificate when any Gateway
// listener on it validates them, and trusts the union of their CAs (every context on the port
// carries it, whatever the SNI picks). It refuses the handshake only when every listener on the port
// requires a valid certificate; otherwise each listener's own CA and mode are enforced per request
// after routing (tls-client-cert.ts), so listeners sharing a port can differ.
import { createHash, X509Certificate } from "node:crypto";
import tls from "node:tls";
import type { IrCertificate, IrGatewayListener } from "../ir/types.js";
import { compileHostname, type HostTest } from "./hostname.js";

interface CertEntry {
  context: tls.SecureContext;
  x509: X509Certificate | null;
  /** Options of the context; `ca` holds the port's client CAs when it asks for client certificates. */
  pem: { cert: string; key: string; ca?: string };
}

interface GatewayCerts {
  test: HostTest;
  certs: CertEntry[];
}

/** Secure contexts are costly to build: reuse them across snapshots while the PEMs are unchanged. */
const contextCache = new Map<string, CertEntry>();

function entryFor(c: IrCertificate, clientCa: string, used: Set<string>): CertEntry {
  const key = createHash("sha256").update(c.certPem).update("\0").update(c.keyPem).update("\0").update(clientCa).digest("hex");
  used.add(key);
  let e = contextCache.get(key);
  if (!e) {
    let x509: X509Certificate | null = null;
    try {
      x509 = new X509Certificate(c.certPem);
    } catch {
      x509 = null;
    }
    const pem: CertEntry["pem"] = { cert: c.certPem, key: c.keyPem };
    if (clientCa !== "") pem.ca = clientCa;
    e = { context: tls.createSecureContext(pem), x509, pem };
    contextCache.set(key, e);
  }
  return e;
}

/** The distinct CA certificates of the listeners that validate client certificates, in a stable order. */
function clientCaUnion(gateways: IrGatewayListener[]): string {
  const blocks = new Set<string>();
  for (const g of gateways) {
    const pem = g.tls !== null ? g.clientValidation?.caPem : undefined;
    if (pem === undefined) continue;
    for (const b of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) blocks.add(b);
  }
  return [...blocks].sort().join("\n");
}

/** Drops cached contexts no live selector uses. */
export function pruneContextCache(used: Set<string>): void {
  for (const k of contextCache.keys()) if (!used.has(k)) contextCache.delete(k);
}

export class TlsSelector {
  private readonly gateways: GatewayCerts[] = [];
  private readonly all: CertEntry[] = [];
  readonly defaultPem: { cert: string; key: string; ca?: string } | null;
  /** Some listener on the port validates client certificates: the handshake asks for one. */
  readonly requestCert: boolean;
  /** Every listener on the port requires a valid one: the handshake refuses clients without it. */
  readonly rejectUnauthorized: boolean;

  /** `gateways` in the IR's most-specific-first order. Throws on an unusable certificate. */
  constructor(gateways: IrGatewayListener[], used: Set<string>) {
    const clientCa = clientCaUnion(gateways);
    const served = gateways.filter((g) => g.tls !== null && g.tls.certificates.length > 0);
    this.requestCert = served.some((g) => g.clientValidation !== undefined);
    this.rejectUnauthorized = served.length > 0 && served.every((g) => g.clientValidation?.mode === "Require");
    for (const g of gateways) {
      if (!g.tls || g.tls.certificates.length === 0) continue;
      const certs = g.tls.certificates.map((c) => entryFor(c, clientCa, used));
      this.gateways.push({ test: compileHostname(g.hostname), certs });
      this.all.push(...certs);
    }
    this.defaultPem = this.all[0]?.pem ?? null;
  }

  /** Listener hostname match first (exact before wildcard, as ordered), then the certificate's names. */
  select(servername: string): tls.SecureContext | null {
    const name = servername.toLowerCase();
    for (const g of this.gateways) {
      if (!g.test(name)) continue;
      return pickByName(g.certs, name) ?? g.certs[0]!.context;
    }
    return pickByName(this.all, name) ?? this.all[0]?.context ?? null;
  }
}

function pickByName(certs: CertEntry[], name: string): tls.SecureContext | null {
  if (certs.length === 1) return null;
  for (const c of certs) if (c.x509 && c.x509.checkHost(name) !== undefined) return c.context;
  return null;
}

/**
 * Whether the port's handshakes ask for (and require) a client certificate. node reads these per
 * connection, so a reload changes them without rebinding.
 */
export function setClientCertMode(server: tls.Server, sel: TlsSelector): void {
  const s = server as tls.Server & { requestCert?: boolean; rejectUnauthorized?: boolean };
  s.requestCert = sel.requestCert;
  s.rejectUnauthorized = sel.requestCert && sel.rejectUnauthorized;
}
