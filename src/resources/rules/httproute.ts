// HTTPRoute rules that the API server enforces through CEL and list-map keys.
import { quote } from "../describe.js";
import type { FieldPath, Reporter } from "../reporter.js";
import type { K8sObject } from "../types.js";
import { checkBackendRefPort, checkFilterRepeats, checkFilterShapes, checkParentRefs } from "./common.js";
import { parseDuration } from "../duration.js";
import { asArr, asObj, asStr, has, type Obj } from "./util.js";

const HTTP_FILTERS = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect", "URLRewrite", "ExtensionRef", "CORS", "ExternalAuth"];
const ONCE = ["CORS", "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"];
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const MAX_TOTAL_MATCHES = 128;

export function checkHTTPRoute(obj: K8sObject, rep: Reporter): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  checkParentRefs(asArr(spec.parentRefs), ["spec", "parentRefs"], rep);
  const rules = asArr(spec.rules);
  let total = 0;
  rules.forEach((r, i) => {
    const rule = asObj(r);
    if (!rule) return;
    const at: FieldPath = ["spec", "rules", i];
    total += asArr(rule.matches).length;
    checkMatches(asArr(rule.matches), [...at, "matches"], rep);
    checkRuleFilters(rule, at, rep);
    asArr(rule.backendRefs).forEach((b, j) => {
      const ref = asObj(b);
      checkBackendRefPort(ref, [...at, "backendRefs", j], rep);
      const filters = asArr(ref?.filters);
      checkFilterShapes(filters, [...at, "backendRefs", j, "filters"], rep, HTTP_FILTERS);
      checkFilterRepeats(filters, [...at, "backendRefs", j, "filters"], rep, ONCE);
      checkRedirectRewriteTogether(filters, [...at, "backendRefs", j, "filters"], rep);
      checkPrefixRewrite(filters, rule, [...at, "backendRefs", j, "filters"], rep);
    });
    checkTimeouts(asObj(rule.timeouts), [...at, "timeouts"], rep);
  });
  if (total > MAX_TOTAL_MATCHES) {
    rep.error(["spec", "rules"], `the rules have ${total} matches in total`, `at most ${MAX_TOTAL_MATCHES} matches across all rules of a route; split it into several HTTPRoutes`);
  }
}

function checkMatches(matches: unknown[], path: FieldPath, rep: Reporter): void {
  matches.forEach((m, i) => {
    const match = asObj(m);
    if (!match) return;
    const at = [...path, i];
    const p = asObj(match.path);
    if (p) checkPathMatch(p, [...at, "path"], rep);
    checkUniqueNames(asArr(match.headers), [...at, "headers"], "header", true, rep);
    checkUniqueNames(asArr(match.queryParams), [...at, "queryParams"], "query parameter", false, rep);
    for (const list of ["headers", "queryParams"]) {
      asArr(match[list]).forEach((h, j) => {
        const hm = asObj(h);
        if (hm && hm.type === "RegularExpression" && typeof hm.value === "string") checkRegex(hm.value, [...at, list, j, "value"], rep);
      });
    }
  });
}

function checkPathMatch(p: Obj, path: FieldPath, rep: Reporter): void {
  const type = asStr(p.type) ?? "PathPrefix";
  const value = asStr(p.value);
  if (value === undefined) return;
  if (type === "RegularExpression") {
    checkRegex(value, [...path, "value"], rep);
    return;
  }
  if (type !== "Exact" && type !== "PathPrefix") return;
  const at = [...path, "value"];
  const expected = `an absolute path starting with "/" (e.g. "/api"), without "//", "/./", "/../", "%2f", "#" or a trailing "/." or "/.."`;
  if (!value.startsWith("/")) return rep.error(at, `path ${quote(value)} does not start with "/"`, expected);
  for (const bad of ["//", "/./", "/../", "%2f", "%2F", "#"]) {
    if (value.includes(bad)) return rep.error(at, `path ${quote(value)} contains ${quote(bad)}`, expected);
  }
  for (const bad of ["/..", "/."]) {
    if (value.endsWith(bad)) return rep.error(at, `path ${quote(value)} ends with ${quote(bad)}`, expected);
  }
  if (!PATH_CHARS.test(value)) rep.error(at, `path ${quote(value)} contains characters not allowed in a URL path`, "letters, digits, -/._~!$&'()*+,;=:@ and %XX escapes");
}

function checkRegex(source: string, path: FieldPath, rep: Reporter): void {
  try {
    new RegExp(source);
  } catch (e) {
    rep.error(path, `invalid regular expression ${quote(source)}: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}`, "a valid regular expression (RE2 syntax subset)");
  }
}

function checkUniqueNames(list: unknown[], path: FieldPath, what: string, caseInsensitive: boolean, rep: Reporter): void {
  const first = new Map<string, number>();
  list.forEach((e, i) => {
    const name = asStr(asObj(e)?.name);
    if (name === undefined) return;
    const key = caseInsensitive ? name.toLowerCase() : name;
    const prev = first.get(key);
    if (prev === undefined) first.set(key, i);
    else rep.error([...path, i, "name"], `${what} ${quote(name)} is matched twice in this match (also at index ${prev})`, `each ${what} name at most once per match${caseInsensitive ? " (names are case-insensitive)" : ""}`);
  });
}

function checkRuleFilters(rule: Obj, at: FieldPath, rep: Reporter): void {
  const filters = asArr(rule.filters);
  const fpath = [...at, "filters"];
  checkFilterShapes(filters, fpath, rep, HTTP_FILTERS);
  checkFilterRepeats(filters, fpath, rep, ONCE);
  checkRedirectRewriteTogether(filters, fpath, rep);
  checkPrefixRewrite(filters, rule, fpath, rep);
  if (asArr(rule.backendRefs).length > 0) {
    filters.forEach((f, i) => {
      if (has(asObj(f), "requestRedirect")) {
        rep.error([...fpath, i], "a RequestRedirect filter cannot be combined with backendRefs", "either a RequestRedirect filter (the gateway answers with a redirect) or backendRefs, not both in one rule");
      }
    });
  }
}

function checkRedirectRewriteTogether(filters: unknown[], path: FieldPath, rep: Reporter): void {
  const types = filters.map((f) => asStr(asObj(f)?.type));
  const r = types.indexOf("RequestRedirect");
  const w = types.indexOf("URLRewrite");
  if (r >= 0 && w >= 0) {
    rep.error([...path, Math.max(r, w), "type"], `RequestRedirect (index ${r}) and URLRewrite (index ${w}) are both used`, "either a RequestRedirect or a URLRewrite filter in one rule, not both");
  }
}

/** ReplacePrefixMatch rewrites the matched prefix, so there must be exactly one PathPrefix match. */
function checkPrefixRewrite(filters: unknown[], rule: Obj, path: FieldPath, rep: Reporter): void {
  filters.forEach((f, i) => {
    const filter = asObj(f);
    if (!filter) return;
    for (const field of ["requestRedirect", "urlRewrite"]) {
      const pm = asObj(asObj(filter[field])?.path);
      if (!pm) continue;
      const at = [...path, i, field, "path"];
      checkPathModifier(pm, at, rep);
      if (pm.type !== "ReplacePrefixMatch") continue;
      const matches = asArr(rule.matches);
      const only = asObj(asObj(matches[0])?.path);
      if (matches.length !== 1) {
        rep.error([...at, "type"], `ReplacePrefixMatch is used but the rule has ${matches.length} matches`, "exactly one match with a PathPrefix path in a rule that uses ReplacePrefixMatch");
      } else if (!only || only.type !== "PathPrefix") {
        rep.error([...at, "type"], `ReplacePrefixMatch is used but the rule's path match type is ${quote(only?.type)}`, "exactly one match with a PathPrefix path in a rule that uses ReplacePrefixMatch");
      }
    }
  });
}

function checkPathModifier(pm: Obj, at: FieldPath, rep: Reporter): void {
  const type = asStr(pm.type);
  const pairs: [string, string][] = [
    ["ReplaceFullPath", "replaceFullPath"],
    ["ReplacePrefixMatch", "replacePrefixMatch"],
  ];
  for (const [t, field] of pairs) {
    if (type === t && !has(pm, field)) rep.error([...at, field], `type is ${t} but ${field} is not set`, `${field}: the new path (e.g. "/v2")`);
    if (type !== t && has(pm, field)) rep.error([...at, field], `${field} is set but type is ${quote(type)}`, `type: ${t} when ${field} is set`);
    const value = asStr(pm[field]);
    if (type === t && value !== undefined && value !== "" && !value.startsWith("/")) {
      rep.error([...at, field], `path ${quote(value)} does not start with "/"`, `an absolute path starting with "/" (e.g. "/v2")`);
    }
  }
}

function checkTimeouts(t: Obj | undefined, path: FieldPath, rep: Reporter): void {
  if (!t) return;
  const request = asStr(t.request);
  const backend = asStr(t.backendRequest);
  if (request === undefined || backend === undefined) return;
  const r = parseDuration(request);
  const b = parseDuration(backend);
  if (r === null || b === null || r === 0) return; // malformed values are reported by the schema; "0s" disables the limit
  if (b > r) {
    rep.error([...path, "backendRequest"], `backendRequest ${quote(backend)} is longer than request ${quote(request)}`, `a backendRequest timeout no longer than the request timeout (${request})`);
  }
}
