// One TCP or TLS-passthrough listener. Each accepted connection reads the listener state current at
// accept time (a snapshot swap leaves established connections alone), picks a backend, connects and
// hands both sockets to spliceSockets. TLS passthrough first reads the ClientHello to route by SNI,
// then replays the bytes it read to the backend.
import net from "node:net";
import type { CompiledL4Listener, CompiledL4Route } from "./compile.js";
import { readClientHelloSni } from "./sni.js";
import { drainConnections, listenOn } from "../proxy/server-lifecycle.js";
import { spliceSockets } from "./splice.js";

/** Bound on waiting for a complete ClientHello. */
const HELLO_TIMEOUT_MS = 10_000;
/** Bound on connecting to a backend. */
const CONNECT_TIMEOUT_MS = 10_000;

export class TcpL4Server {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  closing: Promise<void> | null = null;

  constructor(public current: CompiledL4Listener) {
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.onConnection(sock));
  }

  private track(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.once("close", () => this.sockets.delete(sock));
  }

  private onConnection(client: net.Socket): void {
    this.track(client);
    client.on("error", () => client.destroy());
    const l = this.current;
    if (l.protocol === "TLS") this.routeBySni(client, l);
    else this.forward(client, l.route, null);
  }

  private routeBySni(client: net.Socket, l: CompiledL4Listener): void {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = readClientHelloSni(buf);
      if (r.state === "more") return;
      clearTimeout(timer);
      client.off("data", onData);
      client.off("end", onEnd);
      client.pause();
      if (r.state === "invalid") {
        client.destroy();
        return;
      }
      // No route for this name: close without answering, as a passthrough proxy cannot alert.
      this.forward(client, l.routeForSni(r.serverName), buf);
    };
    const onEnd = (): void => {
      clearTimeout(timer);
      client.destroy();
    };
    client.on("data", onData);
    client.on("end", onEnd);
    client.resume();
  }

  private forward(client: net.Socket, route: CompiledL4Route | null, head: Buffer | null): void {
    const choice = route?.picker.pick() ?? null;
    if (!choice) {
      client.destroy();
      return;
    }
    const t = choice.target;
    const backend =
      t.path !== undefined
        ? net.connect({ path: t.path, allowHalfOpen: true })
        : net.connect({ host: t.host, port: t.port!, allowHalfOpen: true, noDelay: true });
    this.track(backend);
    backend.setTimeout(CONNECT_TIMEOUT_MS, () => backend.destroy());
    const onConnectError = (): void => {
      // Connect failure: the client learns by its connection closing.
      backend.destroy();
      client.destroy();
    };
    backend.once("error", onConnectError);
    backend.once("connect", () => {
      backend.setTimeout(0);
      backend.off("error", onConnectError);
      if (client.destroyed) {
        backend.destroy();
        return;
      }
      client.setNoDelay(true);
      if (head && head.length > 0) backend.write(head);
      spliceSockets(client, backend);
      client.resume();
    });
  }

  listen(host: string | undefined): Promise<string | null> {
    return listenOn(this.server, this.current.port, host, `l4 listener ${this.current.name}`);
  }

  /** Stop accepting; established connections get `graceMs` to finish, then are dropped. */
  close(graceMs: number): Promise<void> {
    if (this.closing) return this.closing;
    this.server.close();
    this.closing = drainConnections(
      graceMs,
      () => this.sockets.size === 0,
      () => {
        for (const s of this.sockets) s.destroy();
      },
    );
    return this.closing;
  }
}
