// Gateway spec.tls.backend.clientCertificateRef (GEP-3155): routes served by that Gateway reach TLS
// backends (BackendTLSPolicy) through a variant of the cluster that presents the certificate; routes
// of other Gateways keep the plain cluster. Mirrors are treated the same way.
import type { IrBackend, IrClientCertificate, IrFilters } from "../../ir/types.js";
import type { Context } from "../context.js";
import { gatewayBackendClientCert } from "../gateway-client-tls.js";
import { clusterVariant, registerApplier } from "./registry.js";

function withCert(ctx: Context, name: string, cert: IrClientCertificate): string {
  const tls = ctx.clusters.get(name)?.tls;
  if (tls === undefined) return name;
  return clusterVariant(ctx, name, { tls: { ...tls, clientCertificate: cert } });
}

function filtersWithCert(ctx: Context, f: IrFilters, cert: IrClientCertificate): IrFilters {
  if (!f.mirrors || f.mirrors.length === 0) return f;
  // Filters objects are shared between the routes of a rule: copy, never edit.
  return { ...f, mirrors: f.mirrors.map((m) => ({ ...m, cluster: withCert(ctx, m.cluster, cert) })) };
}

registerApplier({
  kind: "Gateway",
  sections: [],
  route(ctx, _policies, route, scope) {
    const cert = gatewayBackendClientCert(scope.gateway);
    if (cert === null) return;
    route.filters = filtersWithCert(ctx, route.filters, cert);
    const a = route.action;
    if (a.type !== "forward") return;
    route.action = {
      ...a,
      backends: a.backends.map((b): IrBackend => ({ ...b, cluster: b.cluster === null ? null : withCert(ctx, b.cluster, cert), filters: filtersWithCert(ctx, b.filters, cert) })),
    };
  },
});
