// Backend "pods" for the TCPRoute / TLSRoute / UDPRoute cases, in the spirit of upstream's TCP and
// UDP echo servers: each answers with a JSON line saying who it is and what it saw, so a check on the
// client side tells which pod was reached, whether the bytes arrived as TLS, and the SNI it got.
//   tcp  plain TCP: every line received is answered with one JSON line
//   tls  TLS with the pod's own self-signed certificate (passthrough must reach it unchanged)
//   udp  every datagram is answered with one JSON datagram
//   btls like tls, with the certificate the test CA signed (abc.example.com; BackendTLSPolicy cases)
import { X509Certificate } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import type { EchoServer } from "../../../src/demo/echo-server.js";
import { selfSignedCert, type CertPair } from "./certs.js";
import { testCa } from "./grpc.js";

export type L4PodKind = "tcp" | "tls" | "udp" | "btls";

/** What a pod answers. */
export interface PodReply {
  pod: string;
  namespace: string;
  service: string;
  /** The bytes arrived inside TLS this pod terminated itself. */
  tls: boolean;
  /** SNI the pod saw (TLS only). */
  sni: string | null;
}

/** Names every TLS pod's certificate is valid for (the names the TLS cases use). */
const TLS_POD_NAMES = ["*.example.com", "example.com", "*.example.org", "*.example.net"];

export interface L4Pod extends EchoServer {
  kind: L4PodKind;
  /** TLS pods: their certificate, and its SHA-256 fingerprint as node:tls reports it. */
  cert: CertPair | null;
  fingerprint: string | null;
}

export function isL4PodKind(kind: string): kind is L4PodKind {
  return kind === "tcp" || kind === "tls" || kind === "udp" || kind === "btls";
}

export async function startL4Pod(kind: L4PodKind, id: { namespace: string; pod: string; service: string }): Promise<L4Pod> {
  const reply = (sni: string | null, overTls: boolean): string =>
    JSON.stringify({ pod: id.pod, namespace: id.namespace, service: id.service, tls: overTls, sni } satisfies PodReply) + "\n";
  if (kind === "udp") {
    const sock = dgram.createSocket("udp4");
    sock.on("message", (_m, r) => sock.send(reply(null, false), r.port, r.address));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    return {
      kind,
      cert: null,
      fingerprint: null,
      host: "127.0.0.1",
      port: sock.address().port,
      requests: [],
      close: () => new Promise<void>((r) => sock.close(() => r())),
    };
  }
  const onStream = (s: net.Socket | tls.TLSSocket, sni: string | null, overTls: boolean): void => {
    let buf = "";
    s.on("data", (c: Buffer) => {
      buf += c.toString("latin1");
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        buf = buf.slice(i + 1);
        s.write(reply(sni, overTls));
      }
    });
    s.on("end", () => s.end());
    s.on("error", () => s.destroy());
  };
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let cert: CertPair | null = null;
  if (kind === "tls" || kind === "btls") {
    cert = kind === "tls" ? selfSignedCert(TLS_POD_NAMES, `${id.pod}.${id.namespace}`) : testCa();
    server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => onStream(s, s.servername || null, true));
  } else {
    server = net.createServer({ allowHalfOpen: true }, (s) => onStream(s, null, false));
  }
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    kind,
    cert,
    fingerprint: cert ? new X509Certificate(cert.certPem).fingerprint256 : null,
    host: "127.0.0.1",
    port: (server.address() as net.AddressInfo).port,
    requests: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
