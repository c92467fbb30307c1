// Listener rules for the L4 protocols: which route kind each carries, TLS modes we serve, and the
// transport a protocol binds (TCP and UDP listeners may share a port number).
import type { RouteGroupKind } from "./gateways.js";
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
 * TLS listeners: Passthrough (SNI routing without decryption) and Terminate (the gateway completes
 * the handshake with the listener's certificates and relays plaintext) are both served, also mixed
 * on one port: the SNI picks the listener before any byte is decrypted.
 */
export function tlsListenerVerdict(mode: string): { reason: string; message: string } | null {
  if (mode === "Passthrough" || mode === "Terminate") return null;
  return { reason: "UnsupportedValue", message: `tls.mode ${mode} is not supported: use Passthrough or Terminate` };
}
