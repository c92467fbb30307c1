// HTTP/1.1 Upgrade (WebSocket) pass-through: the request head is re-written to the backend with the
// upgrade headers kept, then the two sockets are piped; the backend's 101 (or refusal) flows back
// to the client as is.
import net from "node:net";
import type { Duplex } from "node:stream";
import type { EndpointRuntime } from "./endpoint.js";

export function pipeUpgrade(
  ep: EndpointRuntime,
  method: string,
  path: string,
  headers: string[],
  client: Duplex,
  head: Buffer,
  onFail: (err: Error) => void,
  onClose: (bytesOut: number) => void,
): void {
  const upstream = ep.tls !== null ? ep.connectTls() : ep.socketPath !== null ? net.connect(ep.socketPath) : net.connect(ep.port, ep.host!);
  // Relayed messages are small and interactive: without TCP_NODELAY one sent right after another
  // waits for the backend's delayed ACK (~40 ms).
  upstream.setNoDelay(true);
  let connected = false;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    client.destroy();
    upstream.destroy();
    onClose(upstream.bytesRead);
  };
  upstream.once(ep.tls !== null ? "secureConnect" : "connect", () => {
    connected = true;
    let text = `${method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    upstream.write(text + "\r\n");
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on("error", (err) => {
    if (!connected && !closed) {
      closed = true;
      upstream.destroy();
      onFail(err);
      return;
    }
    close();
  });
  upstream.on("close", close);
  client.on("error", close);
  client.on("close", close);
}
