// The addresses a Gateway is reachable on, for Gateway .status.addresses. In standalone mode a
// Gateway's address is this host: the --listen-address when one is set, else every address of
// every interface (listeners bind them all).
import { networkInterfaces } from "node:os";

export interface GatewayStatusAddress {
  type: "IPAddress";
  value: string;
}

export function gatewayAddresses(listenAddress: string | undefined): GatewayStatusAddress[] {
  if (listenAddress && listenAddress !== "0.0.0.0" && listenAddress !== "::") return [{ type: "IPAddress", value: listenAddress }];
  const seen = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      // Link-local IPv6 needs a zone to be usable; it is no Gateway address.
      if (a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80:")) continue;
      seen.add(a.address);
    }
  }
  // IPv4 before IPv6, then lexical: stable across runs.
  return [...seen]
    .sort((x, y) => Number(x.includes(":")) - Number(y.includes(":")) || (x < y ? -1 : x > y ? 1 : 0))
    .map((value) => ({ type: "IPAddress", value }));
}
