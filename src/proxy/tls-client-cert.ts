// Client certificates per Gateway listener (mTLS), enforced after routing, and what the backend is
// told about them (X-Forwarded-Client-Cert, after Envoy's header).
//
// The port's TLS layer (tls.ts) asks for a certificate and verifies its chain against the union of
// the CAs of the listeners on the port. This guard (order 12) then holds each listener to its own:
// the verified chain must pass through one of the listener's CA certificates, and the listener's mode
// decides what happens without one. What is learnt about a connection's certificate is computed
// once per connection and kept with the socket.
import { X509Certificate } from "node:crypto";
import type http2 from "node:http2";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";
import type { IrClientValidation, IrGatewayListener, IrListener, IrRoute, IrXfcc, IrXfccDetail } from "../ir/types.js";
import { registerGuardFactory } from "./guard-factories.js";
import type { GuardRequest, GuardVerdict, RequestGuard } from "./guards.js";
import type { Req } from "./respond.js";

const XFCC = "x-forwarded-client-cert";

/** One connection's client certificate, as far as the port's handshake went. */
interface PeerInfo {
  presented: boolean;
  /** The chain verified against the port's CAs. */
  authorized: boolean;
  error: string | null;
  /** SHA-256 fingerprints of the verified chain, trust anchor included ("AB:CD:..."). */
  chain: Set<string>;
  /** XFCC elements by detail set, made on first use. */
  xfcc: Map<string, string> | null;
  socket: TLSSocket;
}

const peers = new WeakMap<object, PeerInfo>();

function socketOf(req: Req, isH2: boolean): TLSSocket | null {
  // HTTP/2: the session's socket (one per connection); HTTP/1.1: the request's.
  const s = isH2 ? (req as http2.Http2ServerRequest).stream?.session?.socket : req.socket;
  return s && typeof (s as TLSSocket).getPeerCertificate === "function" ? (s as TLSSocket) : null;
}

function peerOf(sock: TLSSocket): PeerInfo {
  let p = peers.get(sock);
  if (p !== undefined) return p;
  const cert = sock.getPeerCertificate(true) as DetailedPeerCertificate | null;
  const presented = cert !== null && cert.raw !== undefined;
  const chain = new Set<string>();
  if (presented) {
    let c: DetailedPeerCertificate | undefined = cert;
    for (let i = 0; i < 16 && c !== undefined && c.raw !== undefined; i++) {
      chain.add(c.fingerprint256);
      if (c.issuerCertificate === c) break;
      c = c.issuerCertificate;
    }
  }
  const err = sock.authorizationError;
  p = { presented, authorized: presented && sock.authorized === true, error: err === null || err === undefined ? null : String(err), chain, xfcc: null, socket: sock };
  peers.set(sock, p);
  return p;
}

function fingerprints(pem: string): string[] {
  const out: string[] = [];
  for (const b of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      out.push(new X509Certificate(b).fingerprint256);
    } catch {
      // The translator checked every CA certificate; an unreadable one trusts nothing.
    }
  }
  return out;
}

// ---- X-Forwarded-Client-Cert ----

function quoted(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** RFC 2253 order (last RDN first), as Envoy prints Subject. */
function subjectOf(x: X509Certificate): string {
  return x.subject
    .split("\n")
    .filter((l) => l !== "")
    .reverse()
    .map((rdn) => {
      const eq = rdn.indexOf("=");
      return eq < 0 ? rdn : `${rdn.slice(0, eq)}=${rdn.slice(eq + 1).replace(/([,+"\\<>;])/g, "\\$1")}`;
    })
    .join(",");
}

function sansOf(text: string | undefined, prefix: "DNS:" | "URI:"): string[] {
  const out: string[] = [];
  for (const part of (text ?? "").split(", ")) if (part.startsWith(prefix)) out.push(part.slice(prefix.length));
  return out;
}

function pemOf(raw: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${raw.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

/** This connection's XFCC element: By (our URI SAN), Hash, then the asked-for details. */
function xfccElement(p: PeerInfo, details: readonly IrXfccDetail[], key: string): string {
  const hit = p.xfcc?.get(key);
  if (hit !== undefined) return hit;
  const x = p.socket.getPeerX509Certificate();
  const parts: string[] = [];
  if (x !== undefined) {
    const by = sansOf(p.socket.getX509Certificate()?.subjectAltName, "URI:")[0];
    if (by !== undefined) parts.push(`By=${by}`);
    parts.push(`Hash=${x.fingerprint256.replace(/:/g, "").toLowerCase()}`);
    for (const d of details) {
      if (d === "Subject") parts.push(`Subject=${quoted(subjectOf(x))}`);
      else if (d === "Cert") parts.push(`Cert=${quoted(encodeURIComponent(x.toString()))}`);
      else if (d === "Chain") {
        let chain = "";
        let c: DetailedPeerCertificate | undefined = p.socket.getPeerCertificate(true) as DetailedPeerCertificate;
        for (let i = 0; i < 16 && c !== undefined && c.raw !== undefined; i++) {
          chain += pemOf(c.raw);
          if (c.issuerCertificate === c) break;
          c = c.issuerCertificate;
        }
        parts.push(`Chain=${quoted(encodeURIComponent(chain))}`);
      } else if (d === "URI") for (const u of sansOf(x.subjectAltName, "URI:")) parts.push(`URI=${/[,;="]/.test(u) ? quoted(u) : u}`);
      else if (d === "DNS") for (const n of sansOf(x.subjectAltName, "DNS:")) parts.push(`DNS=${n}`);
    }
  }
  const el = parts.join(";");
  (p.xfcc ??= new Map()).set(key, el);
  return el;
}

const CERT_REQUIRED = "client certificate required\n";

class ClientCertGuard implements RequestGuard {
  readonly name = "client-certificate";
  private readonly cas: Set<string>;
  private readonly xfccKey: string;

  constructor(
    private readonly validation: IrClientValidation | null,
    private readonly xfcc: IrXfcc,
  ) {
    this.cas = new Set(validation === null ? [] : fingerprints(validation.caPem));
    this.xfccKey = xfcc.certDetailsToAdd.join(",");
  }

  check(g: GuardRequest): GuardVerdict {
    const sock = socketOf(g.req, g.isH2);
    const peer = sock === null ? null : peerOf(sock);
    let valid = false;
    // Verified against the port's CAs, and through one of this listener's (checked per request:
    // a reload may have changed the listener's CAs since the handshake).
    if (peer !== null && peer.authorized) for (const fp of peer.chain) if (this.cas.has(fp)) valid = true;
    const v = this.validation;
    if (v !== null && !valid) {
      const presented = peer !== null && peer.presented;
      if (v.mode === "Require" && !presented) return { status: 403, body: CERT_REQUIRED };
      if (v.mode !== "AllowInsecureFallback" && presented) {
        return { status: 403, body: `client certificate not accepted on this listener${peer.error !== null && !peer.authorized ? ` (${peer.error})` : ""}\n` };
      }
    }
    this.forward(g, valid ? peer : null);
    return null;
  }

  private forward(g: GuardRequest, peer: PeerInfo | null): void {
    const mode = this.xfcc.mode;
    if (mode === "AlwaysForwardOnly") return;
    if (peer === null || mode === "Sanitize") {
      if (g.headers[XFCC] !== undefined) g.removeUpstreamHeader(XFCC);
      return;
    }
    if (mode === "ForwardOnly") return;
    const el = xfccElement(peer, this.xfcc.certDetailsToAdd, this.xfccKey);
    const prev = g.headers[XFCC];
    if (mode === "AppendForward" && prev !== undefined && prev !== "") g.setUpstreamHeader(XFCC, `${Array.isArray(prev) ? prev.join(",") : prev},${el}`);
    else g.setUpstreamHeader(XFCC, el);
  }
}

const SANITIZE: IrXfcc = { mode: "Sanitize", certDetailsToAdd: [] };

/** One guard per Gateway listener, shared by its routes. */
const guards = new WeakMap<IrGatewayListener, ClientCertGuard | null>();

registerGuardFactory({
  name: "client-certificate",
  order: 12,
  build(_route: IrRoute, _listener: IrListener, _env, gateway?: IrGatewayListener): RequestGuard | null {
    if (gateway === undefined) return null;
    let g = guards.get(gateway);
    if (g !== undefined) return g;
    const validation = gateway.tls !== null ? gateway.clientValidation ?? null : null;
    // Without validation or an XFCC setting, the header is left as the client sent it.
    if (validation === null && gateway.xfcc === undefined) g = null;
    else g = new ClientCertGuard(validation, gateway.xfcc ?? SANITIZE);
    guards.set(gateway, g);
    return g;
  },
});
