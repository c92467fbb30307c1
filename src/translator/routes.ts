// HTTPRoute rules -> IR route pieces (matches, filters, action, timeouts, retry), independent of
// the listeners the route attaches to. Reference problems feed the route's ResolvedRefs condition.
import type { IHTTPRouteMatch } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRouteMatch";
import type { IHTTPRouteRule } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRouteRule";
import type { IrAction, IrBackend, IrMatch, IrRetry, IrTimeouts, IrValueMatch } from "../ir/types.js";
import { resolveBackendRef } from "./backends.js";
import { type Context, refOfItem } from "./context.js";
import { parseDuration } from "../resources/duration.js";
import { convertFilters } from "./filters.js";
import { applySessionPersistence, compileSessionPersistence } from "./session-persistence.js";
import type { GRPCRouteItem } from "./grpc-routes.js";
import type { HTTPRouteItem } from "./kinds.js";
import { cmpStr } from "./util.js";

export interface RefProblem {
  /** ResolvedRefs reasons, or "UnsupportedValue" for configuration we cannot apply. */
  reason: "BackendNotFound" | "InvalidKind" | "RefNotPermitted" | "UnsupportedProtocol" | "UnsupportedValue";
  field: string;
  message: string;
  expected: string;
}

export interface CompiledRule {
  index: number;
  name?: string;
  /** With their index in rule.matches (invalid matches are left out). */
  matches: { index: number; match: IrMatch }[];
  filters: ReturnType<typeof convertFilters>["filters"];
  action: IrAction;
  timeouts?: IrTimeouts;
  retry?: IrRetry;
}

export interface CompiledRoute {
  /** Absent: HTTPRoute. */
  kind?: "HTTPRoute" | "GRPCRoute";
  item: HTTPRouteItem | GRPCRouteItem;
  hostnames: string[];
  rules: CompiledRule[];
  /** In field order; the first ResolvedRefs problem gives the condition's reason. */
  problems: RefProblem[];
}

/** When a request retry policy leaves `attempts` out, one retry is made. */
export const DEFAULT_RETRY_ATTEMPTS = 1;

function valueMatches(list: { name: string; type?: string; value: string }[] | undefined, lower: boolean): IrValueMatch[] {
  // The spec: among entries with an equivalent name only the first one counts.
  const seen = new Set<string>();
  const out: IrValueMatch[] = [];
  for (const m of list ?? []) {
    const name = lower ? m.name.toLowerCase() : m.name;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ type: m.type === "RegularExpression" ? "RegularExpression" : "Exact", name, value: m.value });
  }
  return out.sort((a, b) => cmpStr(a.name, b.name));
}

export function compileMatch(m: IHTTPRouteMatch): IrMatch {
  const match: IrMatch = {
    path: { type: m.path?.type ?? "PathPrefix", value: m.path?.value ?? "/" },
    headers: valueMatches(m.headers, true),
    queryParams: valueMatches(m.queryParams, false),
  };
  if (m.method) match.method = m.method.toUpperCase();
  return match;
}

/** The first regular expression of a match that does not compile, with where it is. */
function badRegex(m: IrMatch): { where: string; value: string } | null {
  const check = (where: string, value: string) => {
    try {
      new RegExp(value);
      return null;
    } catch {
      return { where, value };
    }
  };
  if (m.path.type === "RegularExpression") {
    const bad = check("path.value", m.path.value);
    if (bad) return bad;
  }
  for (const [list, key] of [[m.headers, "headers"], [m.queryParams, "queryParams"]] as const) {
    for (const v of list) {
      if (v.type !== "RegularExpression") continue;
      const bad = check(`${key}[name=${v.name}].value`, v.value);
      if (bad) return bad;
    }
  }
  return null;
}

function compileTimeouts(ctx: Context, route: HTTPRouteItem, rule: IHTTPRouteRule, field: string): IrTimeouts | undefined {
  const t = rule.timeouts;
  if (!t) return undefined;
  const out: IrTimeouts = {};
  const one = (value: string | undefined, key: "request" | "backendRequest"): number | undefined => {
    if (value === undefined) return undefined;
    const ms = parseDuration(value);
    if (ms === null) {
      ctx.report("error", refOfItem(route), `${field}.timeouts.${key}`, `invalid duration ${JSON.stringify(value)}; no timeout applied`, 'a Gateway API duration such as "10s", "1m30s" or "500ms"');
      return undefined;
    }
    // "0s" disables the timeout.
    return ms === 0 ? undefined : ms;
  };
  const req = one(t.request, "request");
  const be = one(t.backendRequest, "backendRequest");
  if (req !== undefined) out.requestMs = req;
  if (be !== undefined) out.backendRequestMs = be;
  return req === undefined && be === undefined ? undefined : out;
}

function compileRetry(ctx: Context, route: HTTPRouteItem, rule: IHTTPRouteRule, field: string): IrRetry | undefined {
  const r = rule.retry;
  if (!r) return undefined;
  const retry: IrRetry = {
    attempts: r.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    codes: [...new Set(r.codes ?? [])].sort((a, b) => a - b),
  };
  if (r.backoff !== undefined) {
    const ms = parseDuration(r.backoff);
    if (ms === null) {
      ctx.report("error", refOfItem(route), `${field}.retry.backoff`, `invalid duration ${JSON.stringify(r.backoff)}; retrying without backoff`, 'a Gateway API duration such as "100ms"');
    } else retry.backoffMs = ms;
  }
  return retry;
}

export function compileRoute(ctx: Context, route: HTTPRouteItem): CompiledRoute {
  const spec = route.typed.spec ?? {};
  const problems: RefProblem[] = [];
  const rules: CompiledRule[] = [];
  const ruleList = spec.rules && spec.rules.length > 0 ? spec.rules : [{}];
  ruleList.forEach((rule: IHTTPRouteRule, i) => {
    const field = `spec.rules[${i}]`;
    const matches: { index: number; match: IrMatch }[] = [];
    (rule.matches && rule.matches.length > 0 ? rule.matches : [{}]).forEach((m, j) => {
      const match = compileMatch(m);
      const bad = badRegex(match);
      // A pattern the data plane cannot compile would make the whole snapshot unusable: that
      // match is left out (it never matches) and the route says so.
      if (bad) {
        problems.push({
          reason: "UnsupportedValue",
          field: `${field}.matches[${j}].${bad.where}`,
          message: `invalid regular expression ${JSON.stringify(bad.value)}; this match is ignored`,
          expected: "a valid regular expression",
        });
      } else matches.push({ index: j, match });
    });
    const conv = convertFilters(ctx, route.namespace, rule.filters, `${field}.filters`, "rule", problems);
    const backends: IrBackend[] = [];
    (rule.backendRefs ?? []).forEach((br, j) => {
      const at = `${field}.backendRefs[${j}]`;
      const res = resolveBackendRef(ctx, "HTTPRoute", route.namespace, br);
      if (!res.ok) problems.push({ reason: res.reason, field: at, message: res.message, expected: res.expected });
      const bf = convertFilters(ctx, route.namespace, br.filters, `${at}.filters`, "backendRef", problems);
      const weight = br.weight ?? 1;
      // Weight 0 sends nothing to the backend; it is validated above but left out of the IR.
      if (weight === 0) return;
      backends.push({ cluster: res.ok && !bf.unsupported ? res.cluster : null, weight, filters: bf.filters });
    });
    let action: IrAction;
    if (conv.unsupported) action = { type: "direct", status: 500, body: "" };
    else if (conv.redirect) action = conv.redirect;
    else if ((rule.backendRefs ?? []).length === 0) action = { type: "direct", status: 500, body: "" };
    else action = { type: "forward", backends: applySessionPersistence(ctx, backends, compileSessionPersistence(ctx, route, rule, i, field)) };
    const compiled: CompiledRule = {
      index: i,
      matches,
      filters: conv.unsupported ? {} : conv.filters,
      action,
    };
    if (rule.name) compiled.name = rule.name;
    const timeouts = compileTimeouts(ctx, route, rule, field);
    if (timeouts) compiled.timeouts = timeouts;
    const retry = compileRetry(ctx, route, rule, field);
    if (retry) compiled.retry = retry;
    rules.push(compiled);
  });
  for (const p of problems) ctx.report("error", refOfItem(route), p.field, p.message, p.expected);
  const hostnames = [...new Set((spec.hostnames ?? []).map((h) => h.toLowerCase()))].sort(cmpStr);
  return { item: route, hostnames, rules, problems };
}
