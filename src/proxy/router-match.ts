// One IrMatch compiled into a flat structure checked without allocation (except lazy query parsing).
import type { IncomingHttpHeaders } from "node:http";
import type { IrMatch, IrValueMatch } from "../ir/types.js";

export const PATH_EXACT = 0;
export const PATH_PREFIX = 1;
export const PATH_REGEX = 2;

interface ValueTest {
  name: string;
  exact: string | null;
  re: RegExp | null;
}

export interface CompiledMatch {
  pathKind: number;
  /** Exact path, or the prefix without its trailing slash ("/" stays "/"). */
  pathValue: string;
  pathRe: RegExp | null;
  method: string | null;
  headers: ValueTest[] | null;
  query: ValueTest[] | null;
}

/** Full-match (anchored) regular expression, compiled once. */
export function anchored(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

function valueTests(list: IrValueMatch[], lower: boolean): ValueTest[] | null {
  if (list.length === 0) return null;
  return list.map((m) => ({
    name: lower ? m.name.toLowerCase() : m.name,
    exact: m.type === "Exact" ? m.value : null,
    re: m.type === "RegularExpression" ? anchored(m.value) : null,
  }));
}

/** Prefix as matched: a trailing slash in the configured value is ignored (spec). */
export function normalizePrefix(value: string): string {
  let v = value;
  while (v.length > 1 && v.endsWith("/")) v = v.slice(0, -1);
  return v === "" ? "/" : v;
}

/** "foo" for "/foo/bar" and "/foo"; "" for "/". */
export function firstSegmentOf(path: string): string {
  const end = path.indexOf("/", 1);
  return end < 0 ? path.slice(1) : path.slice(1, end);
}

/**
 * First path segment every request the match accepts has ("foo" for Exact /foo/bar or PathPrefix
 * /foo), or null when it can accept any (PathPrefix "/", regex). Worked out when a route table
 * builds its buckets, not kept per route.
 */
export function firstSegmentOfMatch(m: CompiledMatch): string | null {
  const v = m.pathValue;
  if (m.pathKind === PATH_REGEX || !v.startsWith("/") || (m.pathKind === PATH_PREFIX && v === "/")) return null;
  return firstSegmentOf(v);
}

export function compileMatch(m: IrMatch): CompiledMatch {
  const type = m.path.type;
  let pathKind = PATH_PREFIX;
  let pathValue = "/";
  let pathRe: RegExp | null = null;
  if (type === "Exact") {
    pathKind = PATH_EXACT;
    pathValue = m.path.value;
  } else if (type === "RegularExpression") {
    pathKind = PATH_REGEX;
    pathValue = m.path.value;
    pathRe = anchored(m.path.value);
  } else {
    pathValue = normalizePrefix(m.path.value || "/");
  }
  return {
    pathKind,
    pathValue,
    pathRe,
    method: m.method ? m.method.toUpperCase() : null,
    headers: valueTests(m.headers, true),
    query: valueTests(m.queryParams, false),
  };
}

/** First value of a query parameter (exact, case-sensitive name), or undefined. */
export function queryValue(query: string, name: string): string | undefined {
  if (query.length === 0) return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf("&", start);
    if (end < 0) end = query.length;
    const eq = query.indexOf("=", start);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    const rawName = query.slice(start, nameEnd);
    if (decode(rawName) === name) return nameEnd < end ? decode(query.slice(nameEnd + 1, end)) : "";
    start = end + 1;
  }
  return undefined;
}

function decode(s: string): string {
  if (s.indexOf("%") < 0 && s.indexOf("+") < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

export function pathMatches(m: CompiledMatch, path: string): boolean {
  switch (m.pathKind) {
    case PATH_EXACT:
      return path === m.pathValue;
    case PATH_PREFIX: {
      const p = m.pathValue;
      if (p === "/") return true;
      // Segment rule: /foo matches /foo, /foo/, /foo/bar but not /foobar.
      return path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47);
    }
    default:
      return m.pathRe!.test(path);
  }
}

export function requestMatches(
  m: CompiledMatch,
  method: string,
  path: string,
  query: string,
  headers: IncomingHttpHeaders,
): boolean {
  if (!pathMatches(m, path)) return false;
  if (m.method !== null && m.method !== method) return false;
  const hs = m.headers;
  if (hs !== null) {
    for (let i = 0; i < hs.length; i++) {
      const t = hs[i]!;
      const raw = headers[t.name];
      if (raw === undefined) return false;
      const v = typeof raw === "string" ? raw : raw.join(",");
      if (t.exact !== null ? v !== t.exact : !t.re!.test(v)) return false;
    }
  }
  const qs = m.query;
  if (qs !== null) {
    for (let i = 0; i < qs.length; i++) {
      const t = qs[i]!;
      const v = queryValue(query, t.name);
      if (v === undefined) return false;
      if (t.exact !== null ? v !== t.exact : !t.re!.test(v)) return false;
    }
  }
  return true;
}
