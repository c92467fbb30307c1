// Backends and clients for the L4 tests, all on 127.0.0.1: a TCP echo that reports the half-close,
// a TLS echo with its own certificate (what passthrough must reach), a UDP echo, and a TCP client
// that sends, half-closes and collects everything until the gateway closes.
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import { selfSignedCert, type CertPair } from "../../conformance/harness/certs.js";

export interface TcpBackend {
  name: string;
  port: number;
  connections: number;
  /** Bytes received over all connections. */
  received: number;
  server: net.Server;
}

/** Echoes every byte; after the client's FIN it sends "|<name>|<bytes seen>" and ends (half-close). */
export async function tcpEcho(name: string): Promise<TcpBackend> {
  const b: TcpBackend = { name, port: 0, connections: 0, received: 0, server: net.createServer({ allowHalfOpen: true }) };
  b.server.on("connection", (s) => {
    b.connections++;
    let seen = 0;
    s.on("data", (c: Buffer) => {
      seen += c.length;
      b.received += c.length;
      s.write(c);
    });
    s.on("end", () => s.end(`|${name}|${seen}`));
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", r));
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

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

/** Sends `payload`, half-closes, and returns everything received until the gateway closes. */
export function tcpExchange(port: number, payload: Buffer, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks));
    });
    s.on("end", () => s.end());
    s.end(payload);
  });
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
