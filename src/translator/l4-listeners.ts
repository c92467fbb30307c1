// Listener rules for the L4 protocols: which route kind each carries, TLS modes we serve, and the
// transport a protocol binds (TCP and UDP listeners may share a port number).
import type { ListenerState, RouteGroupKind } from "./gateways.js";
import { GW_GROUP } from "./kinds.js";

export const L4_KINDS_BY_PROTOCOL: [string, RouteGroupKind[]][] = [
  ["TCP", [{ group: GW_GROUP, kind: "TCPRoute" }]],
  ["TLS", [{ group: GW_GROUP, kind: "TLSRoute" }]],
  ["UDP", [{ group: GW_GROUP, kind: "UDPRoute" }]],
];

export const L4_ROUTE_KIND_OF_PROTOCOL: Record<string, "TCPRoute" | "TLSRoute" | "UDPRoute"> = {
  TCP: "TCPRoute",
  TLS: "TLSRoute",
  UDP: "UDPRoute",
};

export function isL4Protocol(protocol: string): boolean {
  return protocol === "TCP" || protocol === "TLS" || protocol === "UDP";
}

export function transportOf(protocol: string): "tcp" | "udp" {
  return protocol === "UDP" ? "udp" : "tcp";
}

/**
 * TLS listeners: Passthrough is served (SNI routing without decryption). Terminate on a TLS
 * listener is not implemented yet, so it is reported instead of silently half-working.
 */
export function tlsListenerVerdict(mode: string): { reason: string; message: string } | null {
  if (mode === "Passthrough") return null;
  return { reason: "UnsupportedValue", message: `tls.mode ${mode} on a TLS listener is not supported yet: use Passthrough (or an HTTPS listener to terminate)` };
}

/** Terminate and Passthrough TLS listeners on one port cannot be told apart before the handshake. */
export function markMixedTlsModes(listeners: ListenerState[]): void {
  const byPort = new Map<number, ListenerState[]>();
  for (const l of listeners) if (l.protocol === "TLS") byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const [port, ls] of byPort) {
    const modes = new Set(ls.map((l) => l.tlsMode ?? "Terminate"));
    if (modes.size < 2) continue;
    for (const l of ls) {
      l.accepted = { ok: false, reason: "ProtocolConflict", message: `TLS listeners on port ${port} mix tls.mode Terminate and Passthrough` };
    }
  }
}
