// Core API validation the OpenAPI schema leaves to the API server's Go code.
import { isIP } from "node:net";
import { quote, RFC1123_SUBDOMAIN } from "../describe.js";
import type { FieldPath, Reporter } from "../reporter.js";
import type { K8sObject } from "../types.js";
import { asArr, asObj, asStr } from "./util.js";

const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function portNumber(v: unknown, at: FieldPath, rep: Reporter): void {
  if (typeof v === "number" && Number.isInteger(v) && (v < 1 || v > 65535)) rep.error(at, `${v} is out of range`, "a number from 1 to 65535");
}

export function checkService(obj: K8sObject, rep: Reporter): void {
  const spec = asObj(obj.spec);
  const ports = asArr(spec?.ports);
  const names = new Map<string, number>();
  ports.forEach((p, i) => {
    const port = asObj(p);
    if (!port) return;
    const at = ["spec", "ports", i];
    portNumber(port.port, [...at, "port"], rep);
    const tp = port.targetPort;
    if (typeof tp === "number" && tp !== port.port) portNumber(tp, [...at, "targetPort"], rep);
    else if (typeof tp === "string" && (tp.length > 15 || !IANA_SVC_NAME.test(tp))) {
      rep.error([...at, "targetPort"], `invalid named port ${quote(tp)}`, "a port number (1-65535) or a port name: at most 15 lowercase letters, digits and '-', with at least one letter");
    }
    const name = asStr(port.name);
    if (name === undefined && ports.length > 1) rep.error([...at, "name"], "a Service with several ports needs a name on each", "name: a short lowercase name such as \"http\"");
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) rep.error([...at, "name"], `port name ${quote(name)} is also used by spec.ports[${prev}]`, "a unique name per port");
      else names.set(name, i);
    }
  });
}

export function checkEndpointSlice(obj: K8sObject, rep: Reporter): void {
  const type = asStr(obj.addressType);
  asArr(obj.ports).forEach((p, i) => portNumber(asObj(p)?.port, ["ports", i, "port"], rep));
  asArr(obj.endpoints).forEach((e, i) => {
    asArr(asObj(e)?.addresses).forEach((a, j) => {
      if (typeof a !== "string") return;
      const at = ["endpoints", i, "addresses", j];
      const ok = type === "IPv4" ? isIP(a) === 4 : type === "IPv6" ? isIP(a) === 6 : type === "FQDN" ? RFC1123_SUBDOMAIN.test(a) : true;
      if (!ok) rep.error(at, `${quote(a)} is not a valid ${type} address`, type === "FQDN" ? "a lowercase DNS name" : `an ${type} address such as ${type === "IPv4" ? '"10.0.0.7"' : '"fd00::7"'}`);
    });
  });
}
