// Gateway API HTTPRoute / GRPCRoute rule sessionPersistence (cookie or header): each backend of the rule goes to a
// cluster variant carrying the compiled session settings, so the proxy can keep a client's requests on
// one endpoint. With several backendRefs the proxy sends a request with a live session to the
// backend holding its endpoint before weighing backends, so a session holds across them.
import type { IHTTPRouteRule } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRouteRule";
import type { IrBackend, IrSessionPersistence } from "../ir/types.js";
import { parseDuration } from "../resources/duration.js";
import { type Context, refOfItem } from "./context.js";
import type { Item } from "./kinds.js";
import { withClusterSettings } from "./policies/cluster-settings.js";
import { sha256Hex } from "../util/canonical-json.js";

/** RFC 7230 token: valid as a header name and as a cookie name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** What the compiler reads of an HTTPRoute or GRPCRoute rule (GRPCRoute matches carry no path). */
export interface SessionRule {
  name?: string;
  sessionPersistence?: IHTTPRouteRule["sessionPersistence"];
  backendRefs?: { weight?: number }[];
  matches?: { path?: { type?: string; value?: string } }[];
}

export function compileSessionPersistence(ctx: Context, route: Item<unknown>, rule: SessionRule, ruleIndex: number, field: string): IrSessionPersistence | undefined {
  const sp = rule.sessionPersistence;
  if (!sp) return undefined;
  const ref = refOfItem(route);
  const at = `${field}.sessionPersistence`;
  const type = sp.type === "Header" ? "Header" : "Cookie";
  let name = sp.sessionName;
  if (name !== undefined && !TOKEN.test(name)) {
    ctx.report("error", ref, `${at}.sessionName`, `${JSON.stringify(name)} cannot be a ${type === "Cookie" ? "cookie" : "header"} name; a generated name is used`, "letters, digits and !#$%&'*+-.^_`|~ only");
    name = undefined;
  }
  // Default: stable per rule, so two rules never share a session by accident.
  name ??= `sluice-session-${sha256Hex(`${route.namespace}/${route.name}/${rule.name ?? ruleIndex}`).slice(0, 8)}`;
  const out: IrSessionPersistence = { type, name };
  for (const key of ["absoluteTimeout", "idleTimeout"] as const) {
    const text = sp[key];
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === null || ms === 0) {
      ctx.report("error", ref, `${at}.${key}`, `invalid duration ${JSON.stringify(text)}; ignored`, 'a positive Gateway API duration such as "1h" or "30m"');
      continue;
    }
    if (key === "absoluteTimeout") out.absoluteTimeoutMs = ms;
    else out.idleTimeoutMs = ms;
  }
  const lifetime = sp.cookieConfig?.lifetimeType;
  if (type === "Header" && sp.cookieConfig !== undefined) {
    ctx.report("warning", ref, `${at}.cookieConfig`, "cookieConfig applies to Cookie sessions; ignored for a Header session", "no cookieConfig, or type: Cookie");
  } else if (lifetime === "Permanent") {
    if (out.absoluteTimeoutMs === undefined) {
      ctx.report("error", ref, `${at}.absoluteTimeout`, "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent; a session cookie is used", "absoluteTimeout (the cookie's Max-Age), or lifetimeType: Session");
    } else out.permanent = true;
  }
  if (type === "Cookie") out.path = cookiePath(rule);
  return out;
}

/** The rule's path when all its matches share one (prefix or exact), else "/" (always for gRPC). */
function cookiePath(rule: SessionRule): string {
  const paths = new Set((rule.matches && rule.matches.length > 0 ? rule.matches : [{}]).map((m) => (m.path?.type === "RegularExpression" ? "/" : (m.path?.value ?? "/"))));
  return paths.size === 1 ? [...paths][0]! : "/";
}

/** Sends each backend to its cluster's variant with the session settings. */
export function applySessionPersistence(ctx: Context, backends: IrBackend[], sp: IrSessionPersistence | undefined): IrBackend[] {
  if (sp === undefined) return backends;
  return backends.map((b) => (b.cluster === null ? b : { ...b, cluster: withClusterSettings(ctx, b.cluster, { sessionPersistence: sp }) }));
}
