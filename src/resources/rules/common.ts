// Rules shared by the route kinds (the CRDs' x-kubernetes-validations and the spec's
// webhook-era rules that the generated schemas cannot express).
import { quote } from "../describe.js";
import type { FieldPath, Reporter } from "../reporter.js";
import { asArr, asObj, asStr, has, type Obj } from "./util.js";

/** Filter type -> the field that carries its configuration. */
export const FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestMirror: "requestMirror",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  ExtensionRef: "extensionRef",
  CORS: "cors",
  ExternalAuth: "externalAuth",
};

/** Each filter's `type` must name the one configuration field that is set. */
export function checkFilterShapes(filters: unknown[], path: FieldPath, rep: Reporter, allowed: readonly string[]): void {
  filters.forEach((f, i) => {
    const filter = asObj(f);
    if (!filter) return;
    const type = asStr(filter.type);
    const at = [...path, i];
    const populated = allowed.filter((t) => has(filter, FILTER_FIELDS[t]));
    if (type !== undefined && allowed.includes(type) && !has(filter, FILTER_FIELDS[type])) {
      rep.error([...at, "type"], `type is ${quote(type)} but ${FILTER_FIELDS[type]} is not set`, `a ${FILTER_FIELDS[type]} field configuring the ${type} filter`);
    }
    for (const t of populated) {
      if (t !== type) {
        rep.error(
          [...at, FILTER_FIELDS[t]],
          `${FILTER_FIELDS[t]} is set but the filter's type is ${quote(type)}`,
          `type: ${t} for a ${FILTER_FIELDS[t]} filter, one configuration field per filter`,
        );
      }
    }
    if (type === "RequestMirror") checkMirror(asObj(filter.requestMirror), [...at, "requestMirror"], rep);
    if (type === "RequestHeaderModifier") checkHeaderModifier(asObj(filter.requestHeaderModifier), [...at, "requestHeaderModifier"], rep);
    if (type === "ResponseHeaderModifier") checkHeaderModifier(asObj(filter.responseHeaderModifier), [...at, "responseHeaderModifier"], rep);
    if (type === "CORS") checkCors(asObj(filter.cors), [...at, "cors"], rep);
  });
}

/** Some filter types may appear at most once in a list. */
export function checkFilterRepeats(filters: unknown[], path: FieldPath, rep: Reporter, once: readonly string[]): void {
  const first = new Map<string, number>();
  filters.forEach((f, i) => {
    const type = asStr(asObj(f)?.type);
    if (type === undefined || !once.includes(type)) return;
    const prev = first.get(type);
    if (prev === undefined) first.set(type, i);
    else rep.error([...path, i, "type"], `${type} filter is repeated (first at index ${prev})`, `at most one ${type} filter per list; merge their settings into one`);
  });
}

function checkMirror(m: Obj | undefined, path: FieldPath, rep: Reporter): void {
  if (!m) return;
  if (has(m, "percent") && has(m, "fraction")) {
    rep.error([...path, "fraction"], "both percent and fraction are set", "either percent (0-100) or fraction {numerator, denominator}, not both");
  }
  const fr = asObj(m.fraction);
  if (fr && typeof fr.numerator === "number") {
    const den = typeof fr.denominator === "number" ? fr.denominator : 100;
    if (fr.numerator > den) rep.error([...path, "fraction", "numerator"], `numerator ${fr.numerator} is greater than denominator ${den}`, "numerator <= denominator");
  }
  checkBackendRefPort(asObj(m.backendRef), [...path, "backendRef"], rep);
}

function checkCors(c: Obj | undefined, path: FieldPath, rep: Reporter): void {
  if (!c) return;
  for (const field of ["allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders"]) {
    const list = asArr(c[field]);
    if (list.includes("*") && list.length > 1) rep.error([...path, field], `"*" is listed together with other values`, `either ["*"] alone or an explicit list`);
  }
}

/** Header names in set/add/remove: unique (case-insensitive) and not repeated across the lists. */
export function checkHeaderModifier(m: Obj | undefined, path: FieldPath, rep: Reporter): void {
  if (!m) return;
  const owner = new Map<string, string>();
  for (const list of ["set", "add", "remove"]) {
    asArr(m[list]).forEach((entry, i) => {
      const name = list === "remove" ? asStr(entry) : asStr(asObj(entry)?.name);
      if (name === undefined) return;
      const key = name.toLowerCase();
      const here = `${list}[${i}]`;
      const prev = owner.get(key);
      const at = list === "remove" ? [...path, list, i] : [...path, list, i, "name"];
      if (prev !== undefined) {
        rep.error(at, `header ${quote(name)} is already modified by ${prev}`, "each header name (case-insensitive) at most once across set, add and remove");
      } else owner.set(key, here);
    });
  }
}

/** A reference to a core Service must say which port. */
export function checkBackendRefPort(ref: Obj | undefined, path: FieldPath, rep: Reporter): void {
  if (!ref) return;
  const group = asStr(ref.group) ?? "";
  const kind = asStr(ref.kind) ?? "Service";
  if (group === "" && kind === "Service" && !has(ref, "port")) {
    rep.error([...path, "port"], `backend Service ${quote(ref.name)} has no port`, "port: the Service port to send traffic to (1-65535)");
  }
}

/** Two parentRefs to the same parent need distinct sectionNames. */
export function checkParentRefs(refs: unknown[], path: FieldPath, rep: Reporter): void {
  const seen: { key: string; section?: string; index: number }[] = [];
  refs.forEach((r, i) => {
    const ref = asObj(r);
    if (!ref) return;
    const key = `${asStr(ref.group) ?? ""}/${asStr(ref.kind) ?? ""}/${asStr(ref.namespace) ?? ""}/${asStr(ref.name) ?? ""}`;
    const section = asStr(ref.sectionName);
    for (const s of seen) {
      if (s.key !== key) continue;
      if (s.section === undefined || section === undefined) {
        rep.error([...path, i, "sectionName"], `parentRefs[${s.index}] and parentRefs[${i}] refer to the same parent ${quote(ref.name)}`, "a distinct sectionName on every parentRef to the same parent");
        break;
      }
      if (s.section === section) {
        rep.error([...path, i, "sectionName"], `sectionName ${quote(section)} repeats parentRefs[${s.index}]`, "a distinct sectionName on every parentRef to the same parent");
        break;
      }
    }
    seen.push({ key, section, index: i });
  });
}
