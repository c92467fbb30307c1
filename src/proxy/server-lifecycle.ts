// Binding and draining a listening server: shared by the L7 port servers and the L4 TCP servers.
import type net from "node:net";

/** Binds; resolves null when listening, or the bind error's message (never rejects). */
export function listenOn(server: net.Server, port: number, host: string | undefined, label: string): Promise<string | null> {
  return new Promise((resolve) => {
    const onError = (err: Error): void => resolve(err.message);
    server.once("error", onError);
    // No host: node binds "::" dual-stack and falls back to 0.0.0.0 without IPv6.
    server.listen({ port, host }, () => {
      server.off("error", onError);
      server.on("error", (e: Error) => process.stderr.write(`sluice: ${label}: ${e.message}\n`));
      resolve(null);
    });
  });
}

const DRAIN_POLL_MS = 50;

/**
 * Lets a closing server's connections finish: `sweep` runs now and every 50 ms, closing what is
 * idle and returning true once nothing is left; after `graceMs`, `force` drops the rest. `onClosed`
 * receives the function that ends the drain early (e.g. from server.close's callback).
 */
export function drainConnections(graceMs: number, sweep: () => boolean, force: () => void, onClosed?: (finish: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    };
    const poll = setInterval(() => sweep() && finish(), DRAIN_POLL_MS);
    const timer = setTimeout(() => {
      force();
      finish();
    }, graceMs);
    onClosed?.(finish);
    if (sweep()) finish();
  });
}
