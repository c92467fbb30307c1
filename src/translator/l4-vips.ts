// Services with a cluster IP -> IR service VIPs (clusterIP:port -> ready endpoints), the input of
// kernel L4 load balancing for local clients. Every such Service of the folder is listed, whether
// a route references it or not, as kube-proxy would program it.
import { isIP } from "node:net";
import type { IrEndpoint, IrServiceVip } from "../ir/types.js";
import { compareEndpoints } from "./backends.js";
import type { ResourceIndex } from "./kinds.js";
import { cmpStr } from "./util.js";

interface SliceLike {
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

export function buildServiceVips(index: ResourceIndex): IrServiceVip[] {
  const out: IrServiceVip[] = [];
  for (const [id, svc] of index.services) {
    const spec = svc.typed.spec ?? {};
    if (spec.type === "ExternalName") continue;
    const ips = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((a) => isIP(a) !== 0);
    if (ips.length === 0) continue; // headless ("None") or no cluster IP given
    for (const p of spec.ports ?? []) {
      const protocol = p.protocol ?? "TCP";
      if (protocol !== "TCP" && protocol !== "UDP") continue;
      out.push({
        name: `service/${id}/${p.port}/${protocol.toLowerCase()}`,
        addresses: [...new Set(ips)],
        port: p.port,
        protocol,
        endpoints: readyEndpoints((index.endpointSlices.get(id) ?? []).map((s) => s.typed as SliceLike), p.name ?? "", protocol),
      });
    }
  }
  return out.sort((a, b) => cmpStr(a.name, b.name));
}

function readyEndpoints(slices: SliceLike[], portName: string, protocol: string): IrEndpoint[] {
  const seen = new Set<string>();
  const out: IrEndpoint[] = [];
  for (const s of slices) {
    const port = (s.ports ?? []).find((p) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === protocol);
    if (!port || port.port === undefined) continue;
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const key = `${address}|${port.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ address, port: port.port, weight: 1 });
      }
    }
  }
  return out.sort(compareEndpoints);
}
