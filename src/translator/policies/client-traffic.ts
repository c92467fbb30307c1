// ClientTrafficPolicy tls.clientValidation, headers (xForwardedClientCert, maxRequestHeaderBytes,
// maxHeadersCount) and path.maxLength -> the Gateway listener's clientValidation, xfcc and limits.
// A policy's clientValidation wins over the Gateway's own spec.tls.frontend (GEP-91) for the
// listeners it targets: it is the more specific attachment.
import type { IrClientValidation, IrRequestLimits, IrXfcc, IrXfccDetail } from "../../ir/types.js";
import { SLUICE_GROUP, type PolicyItem } from "../kinds.js";
import type { Context } from "../context.js";
import { loadCaBundle, type CaRef } from "../ca-bundle.js";
import { FRONTEND_CA, listenerClientValidation } from "../gateway-client-tls.js";
import { registerApplier } from "./registry.js";

const KIND = "ClientTrafficPolicy";

interface TlsSpec {
  clientValidation?: { optional?: boolean; caCertificateRefs: CaRef[] };
}
interface HeadersSpec {
  maxRequestHeaderBytes?: number;
  maxHeadersCount?: number;
  xForwardedClientCert?: { mode?: IrXfcc["mode"]; certDetailsToAdd?: IrXfccDetail[] };
}

function report(ctx: Context, p: PolicyItem, field: string, message: string, expected: string): void {
  ctx.report("error", { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace, name: p.name }, field, message, expected);
}

function clientValidationOf(ctx: Context, p: PolicyItem, field: string, spec: NonNullable<TlsSpec["clientValidation"]>): IrClientValidation {
  const pems: string[] = [];
  spec.caCertificateRefs.forEach((r, i) => {
    const res = loadCaBundle(ctx, { group: SLUICE_GROUP, kind: KIND, namespace: p.namespace }, r, FRONTEND_CA);
    if ("pem" in res) pems.push(res.pem);
    else report(ctx, p, `${field}.caCertificateRefs[${i}]`, res.message, "a ConfigMap or Secret with a PEM CA certificate under ca.crt, in the policy's namespace or granted by a ReferenceGrant");
  });
  // No usable CA fails closed: no client certificate can be valid, so a required one never is.
  return { caPem: pems.join(""), mode: spec.optional === true ? "Optional" : "Require" };
}

registerApplier({
  kind: KIND,
  sections: ["tls", "headers", "path"],
  listener(ctx, policies, gl, gateway, listenerName) {
    const sections = policies.listenerSections(KIND, gateway, listenerName);
    const tls = sections.get("tls");
    const cv = (tls?.value as TlsSpec | undefined)?.clientValidation;
    if (cv && tls) {
      if (gl.tls === null) {
        // A Gateway-wide policy validates on the HTTPS listeners; naming a plain one is a mistake.
        const named = tls.policy.typed.spec?.targetRefs?.[tls.targetIndex]?.sectionName !== undefined;
        if (named) report(ctx, tls.policy, `${tls.field}.clientValidation`, `listener ${listenerName} of Gateway ${gateway.item.namespace}/${gateway.item.name} is not HTTPS; clientValidation is ignored there`, "target an HTTPS listener (sectionName)");
      } else gl.clientValidation = clientValidationOf(ctx, tls.policy, `${tls.field}.clientValidation`, cv);
    } else if (gl.tls !== null) {
      const l = gateway.listeners.find((x) => x.name === listenerName);
      const fromGateway = l ? listenerClientValidation(l) : undefined;
      if (fromGateway) gl.clientValidation = { ...fromGateway };
    }
    const headers = sections.get("headers")?.value as HeadersSpec | undefined;
    const xfcc = headers?.xForwardedClientCert;
    if (xfcc) gl.xfcc = { mode: xfcc.mode ?? "Sanitize", certDetailsToAdd: [...(xfcc.certDetailsToAdd ?? [])] };
    const limits: IrRequestLimits = {};
    if (headers?.maxRequestHeaderBytes !== undefined) limits.maxRequestHeaderBytes = headers.maxRequestHeaderBytes;
    if (headers?.maxHeadersCount !== undefined) limits.maxHeadersCount = headers.maxHeadersCount;
    const path = sections.get("path")?.value as { maxLength?: number } | undefined;
    if (path?.maxLength !== undefined) limits.maxPathLength = path.maxLength;
    if (Object.keys(limits).length > 0) gl.limits = limits;
  },
});
