// Certificate selection for HTTPS listeners. The SNICallback of a listener reads the selector of
// the snapshot currently installed, so certificates change on reload without reopening the socket.
import { createHash, X509Certificate } from "node:crypto";
import tls from "node:tls";
import type { IrCertificate, IrGatewayListener } from "../ir/types.js";
import { compileHostname, type HostTest } from "./hostname.js";

interface CertEntry {
  context: tls.SecureContext;
  x509: X509Certificate | null;
  pem: { cert: string; key: string };
}

interface GatewayCerts {
  test: HostTest;
  certs: CertEntry[];
}

/** Secure contexts are costly to build: reuse them across snapshots while the PEMs are unchanged. */
const contextCache = new Map<string, CertEntry>();

function entryFor(c: IrCertificate, used: Set<string>): CertEntry {
  const key = createHash("sha256").update(c.certPem).update("\0").update(c.keyPem).digest("hex");
  used.add(key);
  let e = contextCache.get(key);
  if (!e) {
    let x509: X509Certificate | null = null;
    try {
      x509 = new X509Certificate(c.certPem);
    } catch {
      x509 = null;
    }
    e = { context: tls.createSecureContext({ cert: c.certPem, key: c.keyPem }), x509, pem: { cert: c.certPem, key: c.keyPem } };
    contextCache.set(key, e);
  }
  return e;
}

/** Drops cached contexts no live selector uses. */
export function pruneContextCache(used: Set<string>): void {
  for (const k of contextCache.keys()) if (!used.has(k)) contextCache.delete(k);
}

export class TlsSelector {
  private readonly gateways: GatewayCerts[] = [];
  private readonly all: CertEntry[] = [];
  readonly defaultPem: { cert: string; key: string } | null;

  /** `gateways` in the IR's most-specific-first order. Throws on an unusable certificate. */
  constructor(gateways: IrGatewayListener[], used: Set<string>) {
    for (const g of gateways) {
      if (!g.tls || g.tls.certificates.length === 0) continue;
      const certs = g.tls.certificates.map((c) => entryFor(c, used));
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
