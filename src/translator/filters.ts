// HTTPRoute filters -> IR filters. Rule-level and backendRef-level lists share this conversion.
import type { IHTTPRouteFilter } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRouteFilter";
import type { IHTTPHeaderFilter } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPHeaderFilter";
import type { IHTTPRequestRedirectFilter } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRequestRedirectFilter";
import type { IHTTPPathModifier } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPPathModifier";
import type { IrFilters, IrHeaderMods, IrPathModifier, IrRedirect } from "../ir/types.js";
import { resolveBackendRef } from "./backends.js";
import type { Context } from "./context.js";
import { corsOf } from "./cors.js";
import type { RefProblem } from "./routes.js";

export interface ConvertedFilters {
  filters: IrFilters;
  redirect: IrRedirect | null;
  /** Why requests through this filter list must answer 500 (a filter we cannot apply). */
  unsupported: string | null;
}

function headerMods(f: IHTTPHeaderFilter | undefined): IrHeaderMods {
  return {
    set: (f?.set ?? []).map((h) => ({ name: h.name, value: h.value })),
    add: (f?.add ?? []).map((h) => ({ name: h.name, value: h.value })),
    remove: (f?.remove ?? []).map((n) => n.toLowerCase()),
  };
}

function pathModifier(p: IHTTPPathModifier | undefined): IrPathModifier | undefined {
  if (!p) return undefined;
  if (p.type === "ReplaceFullPath") return { type: "ReplaceFullPath", value: p.replaceFullPath ?? "/" };
  if (p.type === "ReplacePrefixMatch") return { type: "ReplacePrefixMatch", value: p.replacePrefixMatch ?? "/" };
  return undefined;
}

function redirectOf(r: IHTTPRequestRedirectFilter): IrRedirect {
  const red: IrRedirect = { type: "redirect", statusCode: r.statusCode ?? 302 };
  if (r.scheme) red.scheme = r.scheme;
  if (r.hostname) red.hostname = r.hostname.toLowerCase();
  if (r.port !== undefined) red.port = r.port;
  const path = pathModifier(r.path);
  if (path) red.path = path;
  return red;
}

/** Mirror share as a percentage; fractions keep six decimals so output stays stable. */
function mirrorPercent(percent: number | undefined, fraction: { numerator: number; denominator?: number } | undefined): number {
  if (percent !== undefined) return percent;
  if (fraction) {
    const d = fraction.denominator ?? 100;
    if (d <= 0) return 0;
    return Math.round((fraction.numerator / d) * 100 * 1e6) / 1e6;
  }
  return 100;
}

export function convertFilters(
  ctx: Context,
  routeNs: string,
  list: IHTTPRouteFilter[] | undefined,
  field: string,
  level: "rule" | "backendRef",
  problems: RefProblem[],
  /** The referrer kind ReferenceGrants for mirror backends are checked against. */
  routeKind: "HTTPRoute" | "GRPCRoute" = "HTTPRoute",
): ConvertedFilters {
  const out: ConvertedFilters = { filters: {}, redirect: null, unsupported: null };
  (list ?? []).forEach((f, i) => {
    const at = `${field}[${i}]`;
    switch (f.type) {
      case "RequestHeaderModifier":
        out.filters.requestHeaders = headerMods(f.requestHeaderModifier);
        break;
      case "ResponseHeaderModifier":
        out.filters.responseHeaders = headerMods(f.responseHeaderModifier);
        break;
      case "URLRewrite": {
        const rw: IrFilters["urlRewrite"] = {};
        if (f.urlRewrite?.hostname) rw.hostname = f.urlRewrite.hostname.toLowerCase();
        const path = pathModifier(f.urlRewrite?.path);
        if (path) rw.path = path;
        out.filters.urlRewrite = rw;
        break;
      }
      case "RequestRedirect": {
        // Rule level: the rule's action. BackendRef level: that backend's share is redirected.
        const red = redirectOf(f.requestRedirect ?? {});
        if (level === "backendRef") out.filters.redirect = red;
        else out.redirect = red;
        break;
      }
      case "RequestMirror": {
        const m = f.requestMirror;
        if (!m) break;
        const res = resolveBackendRef(ctx, routeKind, routeNs, m.backendRef);
        if (res.ok) {
          (out.filters.mirrors ??= []).push({ cluster: res.cluster, percent: mirrorPercent(m.percent, m.fraction) });
        } else {
          // The mirror is dropped; the request itself is still served.
          problems.push({ reason: res.reason, field: `${at}.requestMirror.backendRef`, message: res.message, expected: res.expected });
        }
        break;
      }
      case "CORS": {
        if (level === "backendRef") {
          out.unsupported ??= "a CORS filter on a backendRef is not supported";
          problems.push({ reason: "UnsupportedValue", field: `${at}.type`, message: "a CORS filter on a backendRef is not supported; matching requests answer 500", expected: "the CORS filter in the rule's filters" });
        } else out.filters.cors = corsOf(f.cors ?? {});
        break;
      }
      case "ExtensionRef": {
        const e = f.extensionRef;
        const what = e ? `${e.group ? e.group + "/" : ""}${e.kind} ${e.name}` : "(none)";
        out.unsupported ??= `ExtensionRef filter ${what} is not supported`;
        problems.push({ reason: "InvalidKind", field: `${at}.extensionRef`, message: `ExtensionRef filter ${what} is not supported; matching requests answer 500`, expected: "no ExtensionRef filters" });
        break;
      }
      default:
        out.unsupported ??= `filter type ${f.type} is not supported`;
        problems.push({ reason: "UnsupportedValue", field: `${at}.type`, message: `filter type ${f.type} is not supported; matching requests answer 500`, expected: "RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, CORS" });
    }
  });
  return out;
}
