// The end of every L4 session (TCP/TLS connection, UDP client session): one access-log record in the
// same JSON log as the L7 requests. Counters are bumped where the outcome is known (tcp-proxy,
// udp-proxy); this only writes the record.
import type { AccessLog, L4AccessEntry } from "../observe/access-log.js";
import type { L4Result } from "../observe/l4-metrics.js";
import { flowRecorder } from "../observe/flow-recorder.js";

/** What is known of a session while it runs: the access-log fields it ends with, plus its start. */
export type SessionInfo = Pick<L4AccessEntry, "protocol" | "listener" | "client" | "sni" | "tls" | "route" | "backend" | "upstream"> & {
  /** Date.now() at accept (UDP: first datagram). */
  start: number;
  /** The listener's port (flow records). */
  port?: number;
};

export function newSession(protocol: SessionInfo["protocol"], listener: string, address: string | undefined, port: number | undefined, listenerPort?: number): SessionInfo {
  return {
    start: Date.now(),
    protocol,
    listener,
    client: address === undefined ? "" : address.includes(":") ? `[${address}]:${port ?? 0}` : `${address}:${port ?? 0}`,
    sni: null,
    tls: null,
    route: null,
    backend: null,
    upstream: null,
    port: listenerPort,
  };
}

export function logSession(log: AccessLog | null, s: SessionInfo, result: L4Result, bytesIn: number, bytesOut: number): void {
  flowRecorder.l4(s, result, bytesIn, bytesOut);
  if (log === null || !log.enabled) return;
  log.write({
    time: new Date(s.start).toISOString(),
    protocol: s.protocol,
    listener: s.listener,
    client: s.client,
    sni: s.sni,
    tls: s.tls,
    route: s.route,
    backend: s.backend,
    upstream: s.upstream,
    result,
    bytesIn,
    bytesOut,
    durationMs: Date.now() - s.start,
  });
}
