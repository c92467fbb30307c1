// The one step a kernel path replaces: relay bytes between an accepted client and a connected
// backend, both ways, until both sides are done. Plain TCP pairs go to a relay thread (io_uring by
// default, splice(2) as asked or where io_uring is refused) or are spliced in the kernel (sockmap +
// sk_skb verdict, src/ebpf/splice.ts) as --l4-relay says; everything else (TLS Terminate's
// plaintext, unix-socket backends) is piped in userspace.
import type net from "node:net";
import tls from "node:tls";
import { childLog } from "../observe/log.js";
import { kernelSplice, registerSpliceMetrics, socketFd, spliceConnections, type KernelSplice, type SplicedPair } from "../ebpf/splice.js";
import { hangupWatch, type HangupWatch } from "./hangup-watch.js";
import type { RelayThread, ThreadRelayResult } from "./relay-thread.js";
import { relayThread } from "./relay-thread.js";
import { l4Relay, type L4Relay } from "./relay-mode.js";

registerSpliceMetrics();

export interface SpliceStats {
  /** Bytes client -> backend and backend -> client. */
  up: number;
  down: number;
}

/** How long a FIN may wait for the bytes the kernel forwarded before it to leave, without progress. */
const FLUSH_STALL_MS = 10_000;

/**
 * Relays `client` <-> `backend`. A FIN from one side ends the other side's write half
 * (half-close); an error or reset on either side destroys both. `onDone` runs once, when both
 * sockets are closed.
 */
export function spliceSockets(client: net.Socket, backend: net.Socket, onDone?: (stats: SpliceStats) => void, mode: L4Relay = l4Relay()): void {
  if (mode === "userspace" || !isTcp(client) || !isTcp(backend) || client.readableEnded || backend.readableEnded) {
    spliceConnections.userspace++;
    pipeSockets(client, backend, onDone);
    return;
  }
  const held = forwardHeldBytes(client, backend);
  // Bytes still queued in userspace would race the relay's: the userspace pipe carries on instead.
  if (backend.writableLength === 0 && client.writableLength === 0) {
    const k = mode === "kernel" ? kernelSplice() : null;
    if (k !== null && spliceInKernel(k, client, backend, held, onDone)) {
      spliceConnections.kernel++;
      return;
    }
    // Each path falls back to the next where it is unavailable: kernel -> uring -> thread -> userspace.
    const u = mode !== "thread" ? relayThread("uring") : null;
    if (u !== null && spliceInThread(u, client, backend, held, onDone)) {
      spliceConnections.uring++;
      return;
    }
    const t = relayThread("splice");
    if (t !== null && spliceInThread(t, client, backend, held, onDone)) {
      spliceConnections.thread++;
      return;
    }
  }
  spliceConnections.userspace++;
  pipeSockets(client, backend, (s) => onDone?.({ up: s.up + held.up, down: s.down + held.down }));
}

/**
 * Writes on what userspace already read (the ClientHello replayed by TLS passthrough, or anything
 * read while the backend connected): it must reach the other socket before the first byte a
 * relay moves. Returns how many bytes went each way.
 */
function forwardHeldBytes(client: net.Socket, backend: net.Socket): SpliceStats {
  const held: SpliceStats = { up: 0, down: 0 };
  for (const [from, to, dir] of [
    [client, backend, "up"],
    [backend, client, "down"],
  ] as const) {
    if (from.readableLength === 0) continue;
    const chunk = from.read() as Buffer | null;
    if (chunk) {
      held[dir] += chunk.length;
      to.write(chunk);
    }
  }
  return held;
}

/**
 * Relays in userspace with back-pressure: a reader pauses while its destination's buffer is full
 * and resumes on "drain"; a FIN ends the destination's write half (half-close). One listener per
 * direction counts and forwards (cheaper per chunk than pipe() plus a counting listener).
 */
export function pipeSockets(client: net.Socket, backend: net.Socket, onDone?: (stats: SpliceStats) => void): void {
  const stats: SpliceStats = { up: 0, down: 0 };
  relayOneWay(client, backend, stats, "up");
  relayOneWay(backend, client, stats, "down");
  closeTogether(client, backend, () => onDone?.(stats));
}

function relayOneWay(src: net.Socket, dst: net.Socket, stats: SpliceStats, dir: "up" | "down"): void {
  src.on("data", (c: Buffer) => {
    stats[dir] += c.length;
    if (!dst.write(c)) src.pause();
  });
  dst.on("drain", () => src.resume());
  src.on("end", () => dst.end());
  // A paused source (TLS routing pauses the client) must flow again.
  src.resume();
}

/** Destroys both on an error or reset of either; `done` once both are closed. */
function closeTogether(a: net.Socket, b: net.Socket, done: () => void): void {
  const fail = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", fail);
  b.on("error", fail);
  let closed = 0;
  const onClose = (): void => {
    if (++closed === 2) done();
  };
  // A side that closed without FIN (reset) leaves the other nothing to do.
  a.on("close", (hadError: boolean) => {
    if (hadError) b.destroy();
    onClose();
  });
  b.on("close", (hadError: boolean) => {
    if (hadError) a.destroy();
    onClose();
  });
}

/**
 * Hands the pair to a relay thread (relay-thread.ts). Returns false, having changed
 * nothing, when it cannot. `held` as for spliceInKernel. The sockets stay open here, unread, until
 * the thread reports the pair done; then both are destroyed (the thread closed its own copies of
 * the fds). If they close here first (gateway stop), the thread is told to let go of the pair.
 */
function spliceInThread(t: RelayThread, client: net.Socket, backend: net.Socket, held: SpliceStats, onDone?: (stats: SpliceStats) => void): boolean {
  const cfd = socketFd(client);
  const bfd = socketFd(backend);
  if (cfd === null || bfd === null) return false;
  let result: ThreadRelayResult | null = null;
  let closed = 0;
  const finish = (): void => {
    if (result !== null && closed === 2) onDone?.({ up: result.up + held.up, down: result.down + held.down });
  };
  const id = t.relay(cfd, bfd, (r) => {
    result = r;
    client.destroy();
    backend.destroy();
    finish();
  });
  if (id === null) return false;
  for (const s of [client, backend]) {
    stopReading(s);
    s.on("error", () => s.destroy());
    s.once("close", () => {
      closed++;
      if (result === null) t.abort(id);
      finish();
    });
  }
  return true;
}

/** Stops the event loop polling a socket whose bytes another thread now moves. */
function stopReading(s: net.Socket): void {
  s.pause();
  const h = handleOf(s);
  if (h !== null && h.reading && typeof h.readStop === "function") {
    h.reading = false;
    h.readStop();
  }
}

/** A plain TCP socket: a TLSSocket's fd is the raw socket under it, whose bytes are ciphertext. */
const isTcp = (s: net.Socket): boolean => !(s instanceof tls.TLSSocket) && (s.remoteFamily === "IPv4" || s.remoteFamily === "IPv6");

/**
 * Hands the pair to the kernel. Returns false, having changed nothing, when the pair cannot be
 * spliced. `held`: bytes userspace wrote on before (forwardHeldBytes), none of them still queued.
 */
function spliceInKernel(k: KernelSplice, client: net.Socket, backend: net.Socket, held: SpliceStats, onDone?: (stats: SpliceStats) => void): boolean {
  const cfd = socketFd(client);
  const bfd = socketFd(backend);
  if (cfd === null || bfd === null) return false;
  let pair: SplicedPair;
  try {
    pair = k.splice(cfd, bfd);
  } catch (e) {
    childLog("l4-splice").debug({ err: (e as Error).message }, "kernel splice refused; relaying in userspace");
    return false;
  }
  // Bytes written by userspace before the splice (or after, below) count as sent by the other
  // side: the kernel must have queued those plus what it forwarded before a FIN may follow.
  const userspaceBytes = { up: held.up, down: held.down };
  // The verdict passes to userspace only skbs of a socket without a peer entry: forward them.
  const upPassed = (c: Buffer): void => {
    userspaceBytes.up += c.length;
    backend.write(c);
  };
  const downPassed = (c: Buffer): void => {
    userspaceBytes.down += c.length;
    client.write(c);
  };
  let forwarded = { up: 0, down: 0 };
  const sample = (): void => {
    // Read while both entries exist; the last sample before removal is the total.
    forwarded = { up: Math.max(forwarded.up, pair.forwarded("a")), down: Math.max(forwarded.down, pair.forwarded("b")) };
  };
  const endAfterFlush = (dst: net.Socket, dstFd: number, dir: "up" | "down"): void => {
    let last = -1;
    let lastProgress = Date.now();
    const check = (): void => {
      if (dst.destroyed) return;
      sample();
      const want = userspaceBytes[dir] + forwarded[dir];
      let sent: number;
      try {
        const st = k.sendState(dstFd);
        // Reset by its peer after our reads stopped (the socket had its EOF): no error event will
        // come, and what the kernel still holds for it will never leave. Waiting would hold the
        // pair open until FLUSH_STALL_MS (and a gateway stop until its drain timeout).
        if (st.closed) {
          dst.destroy();
          return;
        }
        sent = st.sent;
      } catch {
        sent = want; // the socket is going away: nothing left to order
      }
      if (sent >= want) {
        dst.end();
        return;
      }
      if (sent !== last) {
        last = sent;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > FLUSH_STALL_MS) {
        childLog("l4-splice").warn({ sent, want }, "spliced bytes did not drain before FIN; closing the write side anyway");
        dst.end();
        return;
      }
      setTimeout(check, 1);
    };
    check();
  };
  client.on("end", () => endAfterFlush(backend, bfd, "up"));
  backend.on("end", () => endAfterFlush(client, cfd, "down"));
  // Each side leaves the maps when it closes; its counter is read just before.
  client.once("close", () => {
    sample();
    pair.remove("a");
  });
  backend.once("close", () => {
    sample();
    pair.remove("b");
  });
  closeTogether(client, backend, () => {
    onDone?.({ up: userspaceBytes.up + forwarded.up, down: userspaceBytes.down + forwarded.down });
  });
  const watch = hangupWatch();
  park(client, cfd, watch, upPassed);
  park(backend, bfd, watch, downPassed);
  return true;
}

type Handle = { reading?: boolean; readStart?: () => number; readStop?: () => number };
const handleOf = (s: net.Socket): Handle | null => (s as unknown as { _handle?: Handle | null })._handle ?? null;

/**
 * Stops the event loop polling a spliced socket for input (see hangup-watch.ts: every redirected
 * skb would wake it for nothing) until the socket gets a FIN or an error; then it reads again, and
 * the bytes the verdict passed to userspace, the EOF or the error arrive as usual.
 */
function park(s: net.Socket, fd: number, watch: HangupWatch | null, onData: (c: Buffer) => void): void {
  // Paused first, so adding the listener does not start a read.
  s.pause();
  s.on("data", onData);
  const h = handleOf(s);
  if (watch === null || h === null || typeof h.readStop !== "function" || typeof h.readStart !== "function") return unpark(s);
  stopReading(s);
  const cancel = watch.watch(fd, () => unpark(s));
  if (cancel === null) return unpark(s);
  s.once("close", cancel);
}

function unpark(s: net.Socket): void {
  if (s.destroyed) return;
  s.resume();
  // resume() only restarts the handle when the stream has no read outstanding; it may have one.
  const h = handleOf(s);
  if (h !== null && !h.reading && typeof h.readStart === "function") {
    h.reading = true;
    h.readStart();
  }
}
