// A TCP echo backend that reports the half-close, and a client that sends, half-closes and collects
// everything until the other side closes; both on 127.0.0.1.
import net from "node:net";

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
