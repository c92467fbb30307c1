// Hand validator for sluice.dev/v1alpha1 Backend: static endpoints, modelled on Envoy Gateway's Backend.
//   spec.endpoints[]: exactly one of ip {address, port} | fqdn {hostname, port} | unix {path}, plus optional weight
//   spec.appProtocols[]: kubernetes.io/h2c | kubernetes.io/ws
import { isIP } from "node:net";
import { closest, quote, RFC1123_SUBDOMAIN, typeName } from "./describe.js";
import type { FieldPath, Reporter } from "./reporter.js";
import type { K8sObject } from "./types.js";
import { asObj, type Obj } from "./rules/util.js";

export const BACKEND_APP_PROTOCOLS = ["kubernetes.io/h2c", "kubernetes.io/ws"];
const ENDPOINT_KINDS = ["ip", "fqdn", "unix"];
const MAX_ENDPOINTS = 64;
const MAX_WEIGHT = 1_000_000;

const OBJECT_META_FIELDS = [
  "name", "namespace", "labels", "annotations", "generation", "uid", "resourceVersion", "creationTimestamp",
  "generateName", "finalizers", "ownerReferences", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
];

export function checkBackend(obj: K8sObject, rep: Reporter): void {
  onlyKnown(obj, [], ["apiVersion", "kind", "metadata", "spec", "status"], rep);
  const meta = asObj(obj.metadata);
  if (meta) {
    onlyKnown(meta, ["metadata"], OBJECT_META_FIELDS, rep);
    for (const m of ["labels", "annotations"]) {
      const map = meta[m];
      if (map === undefined) continue;
      const o = asObj(map);
      if (!o) {
        rep.error(["metadata", m], `${quote(map)} is ${typeName(map)}`, "a mapping of string keys to string values");
        continue;
      }
      for (const [k, val] of Object.entries(o)) {
        if (typeof val !== "string") rep.error(["metadata", m, k], `${quote(val)} is ${typeName(val)}`, 'a string (quote numbers and booleans, e.g. "true")');
      }
    }
  }
  if (obj.spec === undefined) {
    rep.error(["spec"], `required field "spec" is missing`, "a spec with at least one entry in endpoints");
    return;
  }
  const spec = asObj(obj.spec);
  if (!spec) {
    rep.error(["spec"], `${quote(obj.spec)} is ${typeName(obj.spec)}`, "a mapping (key: value)");
    return;
  }
  onlyKnown(spec, ["spec"], ["endpoints", "appProtocols"], rep);

  const endpoints = spec.endpoints;
  if (endpoints === undefined) rep.error(["spec", "endpoints"], `required field "endpoints" is missing`, "a list of 1 to 64 endpoints, each with ip, fqdn or unix");
  else if (!Array.isArray(endpoints)) rep.error(["spec", "endpoints"], `${quote(endpoints)} is ${typeName(endpoints)}`, "a list of endpoints");
  else {
    if (endpoints.length === 0) rep.error(["spec", "endpoints"], "has 0 entries", "at least 1 endpoint");
    if (endpoints.length > MAX_ENDPOINTS) rep.error(["spec", "endpoints"], `has ${endpoints.length} entries`, `at most ${MAX_ENDPOINTS} endpoints`);
    endpoints.forEach((e, i) => checkEndpoint(e, ["spec", "endpoints", i], rep));
  }

  const protos = spec.appProtocols;
  if (protos !== undefined) {
    if (!Array.isArray(protos)) rep.error(["spec", "appProtocols"], `${quote(protos)} is ${typeName(protos)}`, "a list");
    else {
      protos.forEach((p, i) => {
        if (typeof p !== "string" || !BACKEND_APP_PROTOCOLS.includes(p)) {
          rep.error(["spec", "appProtocols", i], `unsupported value ${quote(p)}`, `one of ${BACKEND_APP_PROTOCOLS.map((x) => quote(x)).join(", ")}`);
        } else if (protos.indexOf(p) !== i) rep.error(["spec", "appProtocols", i], `${quote(p)} is listed twice`, "each app protocol once");
      });
    }
  }
}

function checkEndpoint(e: unknown, at: FieldPath, rep: Reporter): void {
  const ep = asObj(e);
  if (!ep) {
    rep.error(at, `${quote(e)} is ${typeName(e)}`, "a mapping with one of ip, fqdn or unix");
    return;
  }
  onlyKnown(ep, at, [...ENDPOINT_KINDS, "weight"], rep);
  const present = ENDPOINT_KINDS.filter((k) => ep[k] !== undefined);
  if (present.length === 0) {
    rep.error(at, "the endpoint has none of ip, fqdn or unix", 'exactly one of ip {address, port}, fqdn {hostname, port} or unix {path}');
  } else if (present.length > 1) {
    rep.error([...at, present[1]], `the endpoint sets ${present.join(" and ")}`, "exactly one of ip, fqdn or unix per endpoint");
  }
  if (ep.weight !== undefined) integerIn(ep.weight, [...at, "weight"], 0, MAX_WEIGHT, rep);
  for (const kind of present) {
    const body = mapping(ep[kind], [...at, kind], rep);
    if (!body) continue;
    if (kind === "ip") {
      onlyKnown(body, [...at, "ip"], ["address", "port"], rep);
      const address = requireField(body, "address", [...at, "ip"], "an IPv4 or IPv6 address such as \"10.0.0.7\" or \"::1\"", rep);
      if (address !== undefined && (typeof address !== "string" || isIP(address) === 0)) {
        rep.error([...at, "ip", "address"], `${quote(address)} is not an IP address`, 'an IPv4 or IPv6 address such as "10.0.0.7" or "::1" (use fqdn for hostnames)');
      }
      const port = requireField(body, "port", [...at, "ip"], "a port from 1 to 65535", rep);
      if (port !== undefined) integerIn(port, [...at, "ip", "port"], 1, 65535, rep);
    } else if (kind === "fqdn") {
      onlyKnown(body, [...at, "fqdn"], ["hostname", "port"], rep);
      const host = requireField(body, "hostname", [...at, "fqdn"], 'a DNS name such as "api.example.com"', rep);
      if (host !== undefined && (typeof host !== "string" || host.length > 253 || !RFC1123_SUBDOMAIN.test(host) || isIP(host) !== 0)) {
        rep.error([...at, "fqdn", "hostname"], `${quote(host)} is not a valid hostname`, 'a lowercase DNS name such as "api.example.com", at most 253 characters (use ip for addresses)');
      }
      const port = requireField(body, "port", [...at, "fqdn"], "a port from 1 to 65535", rep);
      if (port !== undefined) integerIn(port, [...at, "fqdn", "port"], 1, 65535, rep);
    } else {
      onlyKnown(body, [...at, "unix"], ["path"], rep);
      const path = requireField(body, "path", [...at, "unix"], 'an absolute socket path such as "/run/app.sock"', rep);
      if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) {
        rep.error([...at, "unix", "path"], `${quote(path)} is not an absolute path`, 'an absolute socket path such as "/run/app.sock"');
      } else if (typeof path === "string" && Buffer.byteLength(path) > 107) {
        rep.error([...at, "unix", "path"], `the path is ${Buffer.byteLength(path)} bytes long`, "at most 107 bytes (the kernel's limit for socket paths)");
      }
    }
  }
}

function mapping(v: unknown, at: FieldPath, rep: Reporter): Obj | undefined {
  const o = asObj(v);
  if (!o) rep.error(at, `${quote(v)} is ${typeName(v)}`, "a mapping (key: value)");
  return o;
}

function requireField(o: Obj, key: string, at: FieldPath, expected: string, rep: Reporter): unknown {
  if (o[key] === undefined || o[key] === null) {
    rep.error([...at, key], `required field "${key}" is missing`, expected);
    return undefined;
  }
  return o[key];
}

function integerIn(v: unknown, at: FieldPath, min: number, max: number, rep: Reporter): void {
  if (typeof v !== "number" || !Number.isInteger(v)) rep.error(at, `${quote(v)} is ${typeName(v)}`, `an integer from ${min} to ${max}`);
  else if (v < min || v > max) rep.error(at, `${v} is out of range`, `an integer from ${min} to ${max}`);
}

function onlyKnown(o: Obj, at: FieldPath, known: readonly string[], rep: Reporter): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const guess = closest(k, known);
    const list = [...known].sort().join(", ");
    rep.error([...at, k], `unknown field "${k}"`, guess ? `did you mean "${guess}"? known fields here: ${list}` : `one of the known fields: ${list}`);
  }
}
