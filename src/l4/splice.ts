// The one step a kernel path (sockmap sk_skb splicing) replaces: relay bytes between an accepted
// client and a connected backend, both ways, until both sides are done.
import type net from "node:net";

export interface SpliceStats {
  /** Bytes client -> backend and backend -> client. */
  up: number;
  down: number;
}

/**
 * Pipes `client` <-> `backend` with back-pressure (pipe pauses the reader while the writer is
 * full). A FIN from one side ends the other side's write half (half-close); an error or reset on
 * either side destroys both. `onDone` runs once, when both sockets are closed.
 */
export function spliceSockets(client: net.Socket, backend: net.Socket, onDone?: (stats: SpliceStats) => void): void {
  const stats: SpliceStats = { up: 0, down: 0 };
  client.on("data", (c: Buffer) => (stats.up += c.length));
  backend.on("data", (c: Buffer) => (stats.down += c.length));
  // pipe() calls end() on the destination when the source ends: exactly the half-close we want.
  client.pipe(backend);
  backend.pipe(client);
  const fail = (): void => {
    client.destroy();
    backend.destroy();
  };
  client.on("error", fail);
  backend.on("error", fail);
  let closed = 0;
  const onClose = (): void => {
    // A side that closed without FIN (reset) leaves the other nothing to do.
    if (++closed === 2) onDone?.(stats);
  };
  client.on("close", (hadError: boolean) => {
    if (hadError) backend.destroy();
    onClose();
  });
  backend.on("close", (hadError: boolean) => {
    if (hadError) client.destroy();
    onClose();
  });
}
