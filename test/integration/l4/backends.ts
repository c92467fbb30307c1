// Backends and clients for the L4 tests, all on 127.0.0.1: a TLS echo with its own certificate
// (what passthrough must reach), a UDP echo and client; the TCP echo and client are shared helpers.
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import { selfSignedCert, type CertPair } from "../../conformance/harness/certs.js";

export interface TlsBackend {
  name: string;
  port: number;
  cert: CertPair;
  server: tls.Server;
}

/** Prefixes each chunk it echoes with "<name>:". */
export async function tlsEcho(name: string, dnsNames: string[]): Promise<TlsBackend> {
  const cert = selfSignedCert(dnsNames, `${name}.backend`);
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    s.on("data", (c: Buffer) => s.write(Buffer.concat([Buffer.from(`${name}:`), c])));
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { name, port: (server.address() as net.AddressInfo).port, cert, server };
}

export interface UdpBackend {
  port: number;
  sock: dgram.Socket;
  peers: Set<string>;
}

/** Answers each datagram with "<name>:" + the datagram. */
export async function udpEcho(name: string): Promise<UdpBackend> {
  const sock = dgram.createSocket("udp4");
  const peers = new Set<string>();
  sock.on("message", (m, r) => {
    peers.add(`${r.address}:${r.port}`);
    sock.send(Buffer.concat([Buffer.from(`${name}:`), m]), r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  return { port: sock.address().port, sock, peers };
}


/** One UDP request/answer from a fresh socket (a new client address each time). */
export async function udpExchange(port: number, payload: Buffer, timeoutMs = 3000): Promise<Buffer> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  try {
    return await new Promise<Buffer>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no UDP reply on port ${port}`)), timeoutMs);
      sock.once("message", (m) => {
        clearTimeout(t);
        res(m);
      });
      sock.send(payload, port, "127.0.0.1");
    });
  } finally {
    sock.close();
  }
}

export { backendYaml } from "../../helpers/gateway-yaml.js";
export { tcpEcho, tcpExchange, type TcpBackend } from "../../helpers/tcp-echo.js";
